/**
 * Reading and writing files' contents, browser-safe (bytes and strings in,
 * bytes and strings out): safetensors for weights, PNG for image grids, CSV
 * for logs.
 *
 * @example
 * ```ts
 * import { encodePng, encodeSafetensors, imageGrid } from "./src/io/mod.ts";
 * const png = await encodePng(imageGrid(images, { n: 64, rows: 28, cols: 28 }));
 * const weights = encodeSafetensors({ w: { dtype: "F32", shape: [2, 2], data: new Float32Array(4) } });
 * ```
 *
 * @module
 */

export {
  decodeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  type SafeTensor,
  type SafetensorsArrays,
  type SafetensorsDtype,
  type SafetensorsFile,
} from "./safetensors.ts";
export {
  crc32,
  decodePng,
  encodePng,
  type GridOptions,
  imageGrid,
  imageRows,
  type PngImage,
  type RowsOptions,
  type TileOptions,
} from "./png.ts";
export { type CsvRow, type CsvValue, CsvWriter, type CsvWriterOptions, toCsv } from "./csv.ts";
export { loadWeights, parameterKeys, saveWeights } from "./weights.ts";
