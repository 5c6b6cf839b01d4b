/**
 * The CDI devices a host offers: every `.json` and `.yaml` spec in the spec dirs, read in order.
 * A later dir has higher priority and shadows an earlier one; the same device twice at the same
 * priority is a conflict — an error for both files, and the device is not resolvable.
 *
 * @module
 */

import { type CdiDevice, cdiFormatOf, type CdiSpec, parseCdiSpec } from "./cdi_spec.ts";
import { errorMessage, SpecError } from "../errors.ts";
import { type CdiDirReader, realCdiDirReader } from "./cdi_dir_reader.ts";
import { FileKindError } from "../io/fs.ts";

/** A spec file that loaded. */
export interface CdiSource {
  path: string;
  /** Index of its dir in the list: higher wins. */
  priority: number;
  spec: CdiSpec;
}

/** A resolvable device. */
export interface CdiEntry {
  /** `vendor/class=name`. */
  name: string;
  device: CdiDevice;
  source: CdiSource;
}

/** What the spec dirs hold. */
export interface CdiRegistry {
  dirs: readonly string[];
  /** Every spec file that loaded, in load order (shadowed and conflicting ones included). */
  sources: readonly CdiSource[];
  /** Resolvable devices by qualified name. */
  devices: Map<string, CdiEntry>;
  /** Files that did not load, and conflicts: one line each, naming the file. */
  errors: { path: string; message: string }[];
  /** Devices a higher-priority file hides. */
  shadowed: { name: string; winner: string; hidden: string }[];
  /**
   * Devices that files of the same priority (one dir) both define, by qualified name, with the
   * files: the reference resolves neither, and nor does this registry.
   */
  conflicts: Map<string, string[]>;
}

/**
 * Builds the registry from loaded specs, in load order (dir by dir, files by name).
 *
 * @param failed files that did not load, with their error
 */
export function buildCdiRegistry(
  dirs: readonly string[],
  sources: readonly CdiSource[],
  failed: readonly { path: string; message: string }[] = [],
): CdiRegistry {
  const registry: CdiRegistry = {
    dirs,
    sources,
    devices: new Map(),
    errors: [...failed],
    shadowed: [],
    conflicts: new Map(),
  };
  const conflicts = registry.conflicts;
  for (const source of sources) {
    for (const device of source.spec.devices) {
      const name = `${source.spec.kind}=${device.name}`;
      const old = registry.devices.get(name);
      if (old === undefined) {
        registry.devices.set(name, { name, device, source });
      } else if (source.priority > old.source.priority) {
        registry.shadowed.push({ name, winner: source.path, hidden: old.source.path });
        registry.devices.set(name, { name, device, source });
      } else if (source.priority < old.source.priority) {
        registry.shadowed.push({ name, winner: old.source.path, hidden: source.path });
      } else {
        // Paths quoted as in JSON: a file name may hold a newline, the message must not.
        const message = `conflicting device "${name}" ` +
          `(specs ${JSON.stringify(source.path)}, ${JSON.stringify(old.source.path)})`;
        registry.errors.push({ path: source.path, message }, { path: old.source.path, message });
        const files = conflicts.get(name) ?? [old.source.path];
        conflicts.set(name, [...files, source.path]);
      }
    }
  }
  for (const name of conflicts.keys()) registry.devices.delete(name);
  return registry;
}

/** Loads every spec in `dirs` (missing dirs are skipped) into a registry. */
export async function loadCdiRegistry(
  dirs: readonly string[],
  reader: CdiDirReader = realCdiDirReader,
): Promise<CdiRegistry> {
  const sources: CdiSource[] = [];
  const failed: { path: string; message: string }[] = [];
  const cache = reader.parseCache;
  const seen = new Set<string>();
  for (const [priority, dir] of dirs.entries()) {
    const names = (reader.listFiles(dir) ?? []).filter((n) => cdiFormatOf(n) !== undefined).sort();
    for (const name of names) {
      const path = `${dir.replace(/\/+$/, "")}/${name}`;
      seen.add(path);
      try {
        const text = readSpecText(reader, path);
        const cached = cache?.get(path);
        let spec: CdiSpec;
        if (cached !== undefined && cached.text === text) {
          // A copy: nothing that injects from the registry may change what the next load gets.
          spec = structuredClone(cached.spec);
        } else {
          spec = await parseCdiSpec(text, path);
          cache?.set(path, { text, spec: structuredClone(spec) });
        }
        sources.push({ path, priority, spec });
      } catch (error) {
        cache?.delete(path);
        failed.push({ path, message: errorMessage(error) });
      }
    }
  }
  if (cache) { for (const path of cache.keys()) if (!seen.has(path)) cache.delete(path); }
  return buildCdiRegistry(dirs, sources, failed);
}

/**
 * A spec file's text as the registry reads it (a link is followed; a FIFO, device or directory is
 * refused rather than read, which could block).
 *
 * @throws {SpecError} naming the file when it cannot be read
 */
export function readCdiSpecFile(path: string): string {
  return readSpecText(realCdiDirReader, path);
}

/**
 * A spec file's text.
 *
 * @throws {SpecError} naming the file when it cannot be read (gone, permissions, a FIFO)
 */
function readSpecText(reader: CdiDirReader, path: string): string {
  try {
    return reader.readTextFile(path);
  } catch (error) {
    const detail = error instanceof FileKindError ? error.detail : errorMessage(error);
    throw new SpecError(
      `Cannot read CDI spec ${JSON.stringify(path)}: ${detail}: fix the file or remove it`,
      { path },
      { cause: error },
    );
  }
}

/** The device names the registry knows for a kind, sorted. */
export function devicesOfKind(registry: CdiRegistry, kind: string): string[] {
  return [...registry.devices.values()]
    .filter((e) => e.source.spec.kind === kind)
    .map((e) => e.device.name)
    .sort();
}
