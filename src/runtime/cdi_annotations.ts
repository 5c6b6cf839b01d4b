/**
 * The CDI device names a container's annotations ask for, read on every `create` (annotations are
 * a request source in every mode), so it does not load the CDI registry and spec parser that only
 * mode `cdi` needs (`cdi_edits.ts`).
 *
 * @module
 */

import { isQualifiedName } from "../core/cdi/cdi_name.ts";
import { RequestError } from "../core/errors.ts";

/**
 * The CDI device names requested by annotations: every annotation whose key starts with one of
 * `prefixes` holds a comma list of qualified names.
 *
 * @throws {RequestError} for a value that is not a qualified CDI name
 */
export function cdiAnnotationDevices(
  annotations: ReadonlyMap<string, string>,
  prefixes: readonly string[],
): string[] {
  const names: string[] = [];
  for (const [key, value] of [...annotations].sort(([a], [b]) => a.localeCompare(b))) {
    if (!prefixes.some((p) => key.startsWith(p))) continue;
    for (const name of value.split(",").map((n) => n.trim()).filter((n) => n !== "")) {
      if (!isQualifiedName(name)) {
        throw new RequestError(
          `Cannot start the container: annotation "${key}" names "${name}", which is not a CDI ` +
            `device: write vendor/class=name, e.g. xpu.dev/xpu=0`,
        );
      }
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}
