// How a rank finds the others, from its launcher's variables alone (no
// processes here; test/launchers.test.ts starts real ranks with them): torchrun's
// RANK/WORLD_SIZE and TORCHELASTIC_*, srun's SLURM_*, their precedence, the
// first host of a Slurm host list and the port derived from the job id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstSlurmHost, rendezvousFromEnv, SLURM_PORT_BASE, SLURM_PORT_SPAN } from '../src/tensor/rendezvous.js';

test('plain variables (set by hand or by --nproc): a rank with no elastic run', () => {
  assert.equal(rendezvousFromEnv({}), null);
  assert.deepEqual(rendezvousFromEnv({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29400' }), {
    rank: 1,
    worldSize: 2,
    localRank: 1,
    masterAddr: '10.0.0.1',
    masterPort: 29400,
    launcher: 'env',
    agentStore: false,
  });
  assert.throws(() => rendezvousFromEnv({ WORLD_SIZE: '2' }), /RANK is not set/);
  assert.throws(() => rendezvousFromEnv({ RANK: '2', WORLD_SIZE: '2' }), /RANK 2 is not below WORLD_SIZE 2/);
  assert.throws(() => rendezvousFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '70000' }), /MASTER_PORT must be at most 65535/);
  assert.throws(() => rendezvousFromEnv({ RANK: '', WORLD_SIZE: '2' }), /RANK must be an integer >= 0, got ''/);
});

test("torchrun's variables: restart count, group rank and run id; the agent's store under the static rendezvous", () => {
  const torchrun = {
    RANK: '3',
    WORLD_SIZE: '4',
    LOCAL_RANK: '1',
    GROUP_RANK: '1',
    LOCAL_WORLD_SIZE: '2',
    MASTER_ADDR: 'node0',
    MASTER_PORT: '29500',
    TORCHELASTIC_RESTART_COUNT: '2',
    TORCHELASTIC_MAX_RESTARTS: '3',
    TORCHELASTIC_RUN_ID: 'job7',
    TORCHELASTIC_USE_AGENT_STORE: 'True',
  };
  assert.deepEqual(rendezvousFromEnv(torchrun), {
    rank: 3,
    worldSize: 4,
    localRank: 1,
    masterAddr: 'node0',
    masterPort: 29500,
    launcher: 'torchrun',
    agentStore: true,
    elastic: { restart: 2, maxRestarts: 3, groupRank: 1, runId: 'job7' },
  });
  // The c10d rendezvous backend (torchrun --rdzv-backend c10d): rank 0 serves the store itself.
  assert.equal(rendezvousFromEnv({ ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'False' })!.agentStore, false);
  assert.throws(() => rendezvousFromEnv({ ...torchrun, TORCHELASTIC_RESTART_COUNT: 'x' }), /TORCHELASTIC_RESTART_COUNT must be an integer/);
});

test("srun's variables make a rank when the step has several tasks; torchrun's win over them", () => {
  const slurm = { SLURM_PROCID: '1', SLURM_NTASKS: '2', SLURM_LOCALID: '0', SLURM_JOB_ID: '123456', SLURM_JOB_NODELIST: 'gpu[07-08]' };
  assert.deepEqual(rendezvousFromEnv(slurm), {
    rank: 1,
    worldSize: 2,
    localRank: 0,
    masterAddr: 'gpu07',
    masterPort: SLURM_PORT_BASE + (123456 % SLURM_PORT_SPAN),
    launcher: 'slurm',
    agentStore: false,
  });
  assert.equal(SLURM_PORT_BASE + (123456 % SLURM_PORT_SPAN), 23456);
  // The step's own host list, then MASTER_ADDR/MASTER_PORT given by the batch script, take precedence.
  assert.equal(rendezvousFromEnv({ ...slurm, SLURM_STEP_NODELIST: 'cpu3,gpu07' })!.masterAddr, 'cpu3');
  const given = rendezvousFromEnv({ ...slurm, MASTER_ADDR: '10.1.1.1', MASTER_PORT: '31000' })!;
  assert.deepEqual([given.masterAddr, given.masterPort], ['10.1.1.1', 31000]);
  // One task (sbatch's own shell, or srun -n 1): not a rank, so --nproc may start local ones.
  assert.equal(rendezvousFromEnv({ ...slurm, SLURM_PROCID: '0', SLURM_NTASKS: '1' }), null);
  // torchrun started by srun (one per node): its variables describe the rank.
  assert.equal(rendezvousFromEnv({ ...slurm, RANK: '5', WORLD_SIZE: '8', TORCHELASTIC_RUN_ID: 'j' })!.launcher, 'torchrun');
  assert.throws(() => rendezvousFromEnv({ SLURM_PROCID: '2', SLURM_NTASKS: '2', SLURM_JOB_NODELIST: 'a' }), /SLURM_PROCID 2 is not below SLURM_NTASKS 2/);
  assert.throws(
    () => rendezvousFromEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_JOB_ID: '1' }),
    /MASTER_ADDR is not set, and neither is SLURM_STEP_NODELIST/,
  );
  assert.throws(() => rendezvousFromEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_JOB_NODELIST: 'a' }), /SLURM_JOB_ID is not set \(without MASTER_PORT/);
});

test('the first host of a Slurm host list is what `scontrol show hostnames | head -1` prints', () => {
  const cases: [string, string][] = [
    ['node001', 'node001'],
    ['node[001-004]', 'node001'],
    ['node[007,003-004]', 'node007'],
    ['gpu[12-13],cpu[1-2]', 'gpu12'],
    ['a,b,c', 'a'],
    ['rack[2-3]-n[05-06]', 'rack2-n05'],
    ['host-1.example', 'host-1.example'],
  ];
  for (const [list, first] of cases) assert.equal(firstSlurmHost(list), first, list);
  assert.throws(() => firstSlurmHost(''), /cannot read the first host of the Slurm host list ''; set MASTER_ADDR/);
  assert.throws(() => firstSlurmHost('node[1-2'), /cannot read the first host/);
});
