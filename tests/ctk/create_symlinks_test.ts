import assert from "node:assert/strict";
import { UsageError } from "../../src/core/errors.ts";
import {
  createSymlinks,
  type LinkRequest,
  parseLinkArgument,
  type SymlinkOutcome,
} from "../../src/ctk/create_symlinks.ts";
import { assertThrowsError } from "../helpers/assert_error.ts";
import { withTempDir, writeTree } from "../helpers/temp_dir.ts";

Deno.test("parseLinkArgument reads TARGET::LINK", async (t) => {
  const cases: {
    name: string;
    input: string;
    expected: LinkRequest | { error: typeof UsageError; message: string };
  }[] = [
    {
      name: "relative target",
      input: "libxpu.so.1::/usr/lib/libxpu.so",
      expected: { target: "libxpu.so.1", link: "/usr/lib/libxpu.so" },
    },
    {
      name: "absolute target",
      input: "/usr/lib/libxpu.so.1::/usr/lib64/libxpu.so",
      expected: { target: "/usr/lib/libxpu.so.1", link: "/usr/lib64/libxpu.so" },
    },
    {
      name: "target with dot-dot kept as given",
      input: "../lib/libxpu.so.1::/usr/lib64/libxpu.so",
      expected: { target: "../lib/libxpu.so.1", link: "/usr/lib64/libxpu.so" },
    },
    {
      name: "no separator",
      input: "libxpu.so.1",
      expected: { error: UsageError, message: 'Cannot use --link "libxpu.so.1"' },
    },
    {
      name: "single colon is not the separator",
      input: "libxpu.so.1:/usr/lib/libxpu.so",
      expected: { error: UsageError, message: "TARGET::LINK" },
    },
    {
      name: "relative link",
      input: "libxpu.so.1::usr/lib/libxpu.so",
      expected: {
        error: UsageError,
        message: 'Cannot use --link "libxpu.so.1::usr/lib/libxpu.so"',
      },
    },
    {
      name: "empty target",
      input: "::/usr/lib/libxpu.so",
      expected: { error: UsageError, message: 'Cannot use --link "::/usr/lib/libxpu.so"' },
    },
    {
      name: "empty link",
      input: "libxpu.so.1::",
      expected: { error: UsageError, message: "absolute LINK path" },
    },
    { name: "empty value", input: "", expected: { error: UsageError, message: "--link" } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const expected = c.expected;
      if ("error" in expected) {
        assertThrowsError(() => parseLinkArgument(c.input), expected.error, expected.message);
      } else {
        assert.deepEqual(parseLinkArgument(c.input), expected);
      }
    });
  }
});

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const OLD_TIME = Date.UTC(2000, 0, 1);

/** Names that cannot exist on the host yet, so their appearance there would be an escape. */
const OUTSIDE = `xpu-ctk-test-outside-${crypto.randomUUID().slice(0, 8)}`;

Deno.test("createSymlinks creates links inside the rootfs only", async (t) => {
  const cases: {
    name: string;
    input: {
      tree: Record<string, string | { link: string } | { dir: true }>;
      links: LinkRequest[];
    };
    expected: {
      outcome: SymlinkOutcome;
      /** rootfs-relative path → the link text it must hold afterwards. */
      links: Record<string, string>;
      /** rootfs-relative path → the file contents it must still hold. */
      files?: Record<string, string>;
      /** Host paths that must not exist afterwards (`{rootfs}` is replaced). */
      absent?: string[];
    };
  }[] = [
    {
      name: "parent directories are created and the target is stored verbatim",
      input: {
        tree: {},
        links: [
          { target: "libxpu.so.1", link: "/usr/lib/libxpu.so" },
          { target: "../../opt/xpu/lib/libxpu.so.1", link: "/usr/lib64/libxpu.so.1" },
        ],
      },
      expected: {
        outcome: {
          created: ["/usr/lib/libxpu.so", "/usr/lib64/libxpu.so.1"],
          present: [],
          blocked: [],
        },
        links: {
          "/usr/lib/libxpu.so": "libxpu.so.1",
          "/usr/lib64/libxpu.so.1": "../../opt/xpu/lib/libxpu.so.1",
        },
      },
    },
    {
      name: "an existing link with the same target is present",
      input: {
        tree: { "/usr/lib/libxpu.so": { link: "libxpu.so.1" } },
        links: [{ target: "libxpu.so.1", link: "/usr/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: [], present: ["/usr/lib/libxpu.so"], blocked: [] },
        links: { "/usr/lib/libxpu.so": "libxpu.so.1" },
      },
    },
    {
      name: "an existing link with another target is replaced",
      input: {
        tree: { "/usr/lib/libxpu.so": { link: "libxpu.so.0" } },
        links: [{ target: "libxpu.so.1", link: "/usr/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: ["/usr/lib/libxpu.so"], present: [], blocked: [] },
        links: { "/usr/lib/libxpu.so": "libxpu.so.1" },
      },
    },
    {
      name: "a regular file in the way is blocked and left alone",
      input: {
        tree: { "/usr/lib/libxpu.so": "the image's own file" },
        links: [{ target: "libxpu.so.1", link: "/usr/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: [], present: [], blocked: ["/usr/lib/libxpu.so"] },
        links: {},
        files: { "/usr/lib/libxpu.so": "the image's own file" },
      },
    },
    {
      name: "a directory in the way is blocked",
      input: {
        tree: { "/usr/lib/libxpu.so/inner": "x" },
        links: [{ target: "libxpu.so.1", link: "/usr/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: [], present: [], blocked: ["/usr/lib/libxpu.so"] },
        links: {},
        files: { "/usr/lib/libxpu.so/inner": "x" },
      },
    },
    {
      name: "a relative directory link in the image is followed inside the rootfs",
      input: {
        tree: { "/lib": { link: "usr/lib" }, "/usr/lib/.keep": "" },
        links: [{ target: "libxpu.so.1", link: "/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: ["/lib/libxpu.so"], present: [], blocked: [] },
        links: { "/usr/lib/libxpu.so": "libxpu.so.1" },
      },
    },
    {
      name: "an absolute directory link in the image is re-rooted, never followed onto the host",
      input: {
        tree: { "/usr/lib": { link: `/${OUTSIDE}` } },
        links: [{ target: "libxpu.so.1", link: "/usr/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: ["/usr/lib/libxpu.so"], present: [], blocked: [] },
        links: { [`/${OUTSIDE}/libxpu.so`]: "libxpu.so.1" },
        absent: [`/${OUTSIDE}`],
      },
    },
    {
      name: "a dot-dot directory link in the image stops at the rootfs",
      input: {
        tree: { "/usr/lib": { link: `../../../../../../../../${OUTSIDE}-up` } },
        links: [{ target: "libxpu.so.1", link: "/usr/lib/libxpu.so" }],
      },
      expected: {
        outcome: { created: ["/usr/lib/libxpu.so"], present: [], blocked: [] },
        links: { [`/${OUTSIDE}-up/libxpu.so`]: "libxpu.so.1" },
        absent: [`/${OUTSIDE}-up`, `{rootfs}/../${OUTSIDE}-up`],
      },
    },
    {
      name: "dot-dot in the link path stays inside the rootfs",
      input: {
        tree: {},
        links: [{ target: "libxpu.so.1", link: `/../../../${OUTSIDE}-path/libxpu.so` }],
      },
      expected: {
        outcome: { created: [`/${OUTSIDE}-path/libxpu.so`], present: [], blocked: [] },
        links: { [`/${OUTSIDE}-path/libxpu.so`]: "libxpu.so.1" },
        absent: [`/${OUTSIDE}-path`, `{rootfs}/../${OUTSIDE}-path`],
      },
    },
    {
      name: "several links with mixed outcomes, in request order",
      input: {
        tree: { "/usr/lib/libxpu.so.1": { link: "libxpu.so.1.0.0" }, "/usr/lib/libblock.so": "" },
        links: [
          { target: "libxpu.so.1", link: "/usr/lib/libxpu.so" },
          { target: "libxpu.so.1.0.0", link: "/usr/lib/libxpu.so.1" },
          { target: "libother.so", link: "/usr/lib/libblock.so" },
        ],
      },
      expected: {
        outcome: {
          created: ["/usr/lib/libxpu.so"],
          present: ["/usr/lib/libxpu.so.1"],
          blocked: ["/usr/lib/libblock.so"],
        },
        links: { "/usr/lib/libxpu.so": "libxpu.so.1", "/usr/lib/libxpu.so.1": "libxpu.so.1.0.0" },
        files: { "/usr/lib/libblock.so": "" },
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((rootfs) => {
        writeTree(rootfs, c.input.tree);
        const absent = (c.expected.absent ?? []).map((p) => p.replace("{rootfs}", rootfs));
        for (const path of absent) assert.equal(lstatOrUndefined(path), undefined, path);
        // An old timestamp on every pre-existing entry shows afterwards whether it was rewritten.
        const paths = Object.keys(c.input.tree).map((p) => rootfs + p);
        if (paths.length > 0) {
          const args = ["-h", "-d", `@${OLD_TIME / 1000}`, ...paths];
          assert.equal(new Deno.Command("touch", { args }).outputSync().code, 0);
        }

        const outcome = createSymlinks(rootfs, c.input.links);

        assert.deepEqual(outcome, c.expected.outcome);
        for (const [path, target] of Object.entries(c.expected.links)) {
          assert.equal(lstatOrUndefined(rootfs + path)?.isSymlink, true, `${path} is a symlink`);
          assert.equal(Deno.readLinkSync(rootfs + path), target, path);
        }
        for (const [path, contents] of Object.entries(c.expected.files ?? {})) {
          assert.equal(Deno.readTextFileSync(rootfs + path), contents, path);
        }
        for (const path of [...c.expected.outcome.present, ...c.expected.outcome.blocked]) {
          if (!(path in c.input.tree)) continue;
          const mtime = lstatOrUndefined(rootfs + path)?.mtime?.getTime();
          assert.equal(mtime, OLD_TIME, `${path} untouched`);
        }
        for (const path of absent) assert.equal(lstatOrUndefined(path), undefined, path);
      });
    });
  }
});
