/**
 * The calls of `xpu-ctk hook …` that runc makes for every container, recognised without the
 * command-line library: `commander` is CommonJS, and its first `require` starts Deno's Node layer,
 * which costs each call about 45 ms. Only the forms the toolkit writes into specs are recognised
 * (`hook create-symlinks --link A::B …`, `hook update-ldcache --folder DIR …`, a value also after
 * `=`); any other command line, help and errors included, is `commander`'s to parse.
 *
 * @module
 */

/** A hook call the toolkit writes into a container's spec. */
export type HookCall =
  | { hook: "create-symlinks"; links: string[] }
  | { hook: "update-ldcache"; folders: string[] };

/** Each hook's one repeatable flag. */
const HOOK_FLAGS = { "create-symlinks": "--link", "update-ldcache": "--folder" } as const;

/**
 * The hook call `args` make, or `undefined` for any other command line: another command, another
 * flag, a value missing, empty or starting with `-`.
 *
 * @example
 * ```ts
 * parseHookCall(["hook", "update-ldcache", "--folder", "/usr/lib"]);
 * // { hook: "update-ldcache", folders: ["/usr/lib"] }
 * parseHookCall(["hook", "update-ldcache", "--help"]); // undefined
 * ```
 */
export function parseHookCall(args: readonly string[]): HookCall | undefined {
  if (args[0] !== "hook" || !Object.hasOwn(HOOK_FLAGS, args[1])) return undefined;
  const hook = args[1] as keyof typeof HOOK_FLAGS;
  const flag = HOOK_FLAGS[hook];
  const values: string[] = [];
  for (let i = 2; i < args.length; i++) {
    const value = args[i] === flag
      ? args[++i]
      : args[i].startsWith(`${flag}=`)
      ? args[i].slice(flag.length + 1)
      : undefined;
    if (value === undefined || value === "" || value.startsWith("-")) return undefined;
    values.push(value);
  }
  return hook === "create-symlinks" ? { hook, links: values } : { hook, folders: values };
}
