/**
 * How the CDI registry reads its spec dirs, and the reader of the real file system. Its own
 * module, without the spec parser, so that a `create` in csv or legacy mode (whose create step
 * holds a reader but never loads a registry) does not load the CDI code.
 *
 * @module
 */

import type { CdiSpec } from "./cdi_spec.ts";
import { FileKindError, kindOfInfo, readDirSync, readTextFileSync, statSync } from "../io/fs.ts";

/** How the registry reads files (the real file system by default). */
export interface CdiDirReader {
  /** File names in a dir, or `undefined` when it does not exist. */
  listFiles(dir: string): string[] | undefined;
  readTextFile(path: string): string;
  /**
   * Specs parsed by earlier loads, for a long-running reader (the NRI plugin loads the dirs for
   * every container): a file is read every time and parsed again only when its text changed.
   */
  readonly parseCache?: CdiParseCache;
}

/** Parsed specs by path, each with the text it was parsed from (see {@link CdiDirReader}). */
export type CdiParseCache = Map<string, { text: string; spec: CdiSpec }>;

/**
 * The registry's own reader, of the real file system: files and links are listed, a link is
 * followed, and a FIFO, device or directory is refused rather than read (which could block).
 */
export const realCdiDirReader: CdiDirReader = {
  listFiles(dir) {
    try {
      return [...readDirSync(dir)].filter((e) => e.isFile || e.isSymlink).map((e) => e.name);
    } catch {
      return undefined;
    }
  },
  readTextFile(path) {
    // A FIFO (or a link to one) in a spec dir would block the read until someone writes to it.
    const kind = kindOfInfo(statSync(path));
    if (kind !== "regular file") throw new FileKindError(path, kind);
    return readTextFileSync(path);
  },
};
