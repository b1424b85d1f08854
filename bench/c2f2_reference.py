# The c2f2 network (docs/methods.md §3) in PyTorch, shared by the benchmark
# scripts; parameter names match rankshield's checkpoints (conv1, conv2, fc1, fc2).
import torch.nn as nn
import torch.nn.functional as F


class C2F2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(3136, 1024)
        self.fc2 = nn.Linear(1024, 512)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))
