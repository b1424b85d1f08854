// Layer: data. The one answer to "28×28 or 224×224?". RobRank has two input
// regimes, each with its own defaults (batch sizes, training and attack PGD
// budgets, swipe profiles): 'small' is MNIST / Fashion-MNIST (28×28 grey, c2f2),
// 'large' is CUB / Cars / SOP (224×224 RGB, ResNet). Every dataset here is one
// of the two (the file pipeline always crops 224), so any threshold in between
// classifies them alike; it sits at 28 because 'small' means the MNIST regime
// and nothing more: a larger input, e.g. a 32×32 CIFAR-like one, gets the
// large regime's ε = 8/255 (the usual budget at that size, where 77/255 would
// wipe out the image) and its smaller batches, which only cost speed.

/** The reference's two input regimes. */
export type ImageScale = 'small' | 'large';

/** The largest image side of the small (28×28) regime. */
export const SMALL_IMAGE_MAX_SIDE = 28;

/** The regime of images with this side (height; the reference's images are square). */
export function imageScale(side: number): ImageScale {
  if (!(Number.isInteger(side) && side >= 1)) throw new Error(`image side must be a positive integer, got ${side}`);
  return side <= SMALL_IMAGE_MAX_SIDE ? 'small' : 'large';
}
