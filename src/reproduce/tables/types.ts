// Layer: reproduce. The shape of a published table as data: where it was
// published, the columns it prints, and per row the run it stands for and the
// numbers printed for it. Numbers are the papers' own (percent as printed);
// a cell the source does not give is null ("not recorded").

/** Where a table was published. */
export interface TableSource {
  /** Paper title as published. */
  readonly title: string;
  readonly authors: string;
  /** Venue and year, e.g. "CVPR 2022". */
  readonly venue: string;
  /** The paper's page (or the repository page for tables published there). */
  readonly link: string;
  /** Which table of the paper / document, e.g. "Table 3" or "doc/dmltab-fashion.txt". */
  readonly table: string;
}

/** How each printed column relates to what a swipe measures. */
export interface TableColumn {
  /** The key in the measured result (swipe JSON's benign/attacks, ERS, ARS). */
  readonly key: string;
  /**
   * 'compared': the measured value is the same quantity.
   * 'published-only': printed but not comparable with a raw swipe (e.g. CA-TRIDE's ARS-normalised attack
   * columns, RobRank's r@M which rankshield does not measure); kept so the table is whole.
   */
  readonly role: 'compared' | 'published-only';
  /** Why a column is published-only, or how it was derived; shown under the comparison. */
  readonly note?: string;
  /** True when no paper prints this column and it was derived from printed numbers by formula (Fashion ERS). */
  readonly derived?: boolean;
}

/** The run a row stands for, in the paper's terms; `rowConfig` turns it into an experiment for a scale. */
export interface RowRun {
  /** RobRank's dataset:model:loss shorthand (model = backbone + defense suffix). */
  readonly shorthand: string;
  /** Training PGD steps η; null for rows without adversarial training ("N/A"). */
  readonly eta: number | null;
  /** Code epochs over SPC-2 pairs (RobRank halves the papers' epochs). */
  readonly epochs: number;
  /** Pairs per optimizer step (all processes together). */
  readonly batchPairs: number;
  /**
   * Shards of each batch, each mined and perturbed on its own (the published 224×224 runs: 2 GPUs
   * with 56 pairs each = --batch 112 --shards 2). Absent = 1.
   */
  readonly shards?: number;
  /** ImageNet weights the backbone starts from; null = random initialisation. */
  readonly pretrained: 'resnet18-imagenet' | null;
  /** CA-TRIDE's λ when the paper fixes it for the dataset (else the dataset's published default applies). */
  readonly lambda?: number;
  /** The swipe profile the table's attack columns come from. */
  readonly profile: 'rob28' | 'rob224';
}

/** One printed row. */
export interface PublishedRow {
  /** Stable id for the command line, e.g. "act-n" or "cub-hm-ics-32". */
  readonly id: string;
  /** The row's label as the paper prints it. */
  readonly label: string;
  readonly run: RowRun;
  /** Printed numbers by column key; null = not recorded (garbled, missing). */
  readonly published: Readonly<Record<string, number | null>>;
  /** Where the source is ambiguous: the reading chosen and why. */
  readonly reading?: string;
}

export interface PublishedTable {
  /** Command-line name: `rankshield reproduce NAME`. */
  readonly name: string;
  readonly summary: string;
  readonly source: TableSource;
  readonly columns: readonly TableColumn[];
  /** Facts of the whole table (protocol, seed policy). */
  readonly notes: readonly string[];
  /** The seed policy of every row: what the papers did, what a reproduction runs. */
  readonly seedPolicy: string;
  readonly rows: readonly PublishedRow[];
}
