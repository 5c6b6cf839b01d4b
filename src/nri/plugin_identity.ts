/**
 * Who the NRI plugin is to the runtime: the socket it finds the runtime on, the name and the
 * index it registers with, and the check the runtime applies to them. Kept apart from the session
 * so `xpu-ctk` can check its flags without loading the transport.
 *
 * @module
 */

import { quoted, UsageError } from "../core/errors.ts";

/** Where containerd and cri-o listen for external NRI plugins. */
export const DEFAULT_NRI_SOCKET = "/var/run/nri/nri.sock";

/** The name the plugin registers under. */
export const DEFAULT_PLUGIN_NAME = "xpu-container-toolkit";

/** The plugin's index: plugins are called in ascending index order. */
export const DEFAULT_PLUGIN_INDEX = "10";

/**
 * Checks the plugin's name and index as the runtime will (a non-empty name; an index of two
 * digits), and a bit stricter: no spaces or slashes in the name, which the runtime would put in
 * its log lines and file names.
 *
 * @throws {UsageError} naming the value and the fix
 */
export function checkPluginIdentity(name: string, index: string): void {
  if (name === "" || /[\s/]/.test(name)) {
    throw new UsageError(
      `Cannot register NRI plugin name ${quoted(name)}: a name must be non-empty, ` +
        `without spaces or slashes: use one like ${quoted(DEFAULT_PLUGIN_NAME)}`,
    );
  }
  if (!/^[0-9]{2}$/.test(index)) {
    throw new UsageError(
      `Cannot register NRI plugin index ${quoted(index)}: an index is two digits ` +
        `(plugins are called in ascending order): use one from "00" to "99"`,
    );
  }
}
