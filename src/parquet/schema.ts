// What a Parquet file written by skewless holds: column specs, the format's codes, chunk metadata.

/** The physical types offline files use. */
export type PhysicalType = 'BOOLEAN' | 'INT64' | 'DOUBLE' | 'BYTE_ARRAY';

/** One column of a file: a top-level field, or a list (three-level LIST) of one such value. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: PhysicalType;
  readonly convertedType?: 'UTF8' | 'TIMESTAMP_MILLIS' | 'INT_64';
  /**
   * For a TIMESTAMP_MILLIS column, also the logical TIMESTAMP(MILLIS) type with this `isAdjustedToUTC`;
   * without it only the converted type is written (which the format reads as adjusted to UTC).
   */
  readonly adjustedToUtc?: boolean;
  readonly list?: boolean;
}

export const TYPE: Record<PhysicalType, number> = { BOOLEAN: 0, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 };
export const CONVERTED = { UTF8: 0, LIST: 3, TIMESTAMP_MILLIS: 9, INT_64: 18 } as const;
export const OPTIONAL = 1;
export const REPEATED = 2;
export const PLAIN = 0;
export const RLE = 3;
export const RLE_DICTIONARY = 8;
export const SNAPPY = 1;
export const DATA_PAGE = 0;
export const DICTIONARY_PAGE = 2;

/** What the footer records of one column chunk. */
export interface ChunkMeta {
  readonly type: PhysicalType;
  readonly path: readonly string[];
  readonly encodings: readonly number[];
  readonly start: number;
  readonly dataPage: number;
  readonly dictionaryPage: number | undefined;
  readonly levels: number;
  readonly nulls: number;
  readonly compressed: number;
  readonly uncompressed: number;
  readonly min: Uint8Array | undefined;
  readonly max: Uint8Array | undefined;
}

export interface RowGroupMeta {
  readonly chunks: readonly ChunkMeta[];
  readonly rows: number;
  readonly start: number;
  readonly compressed: number;
  readonly uncompressed: number;
}

