/**
 * Byte-preserving edits of a JSON document: set or remove one property and touch nothing else —
 * not the other keys' layout, not their order. New properties go after an object's last one, in
 * the object's own style (one line, or one property per line at its indentation).
 *
 * @module
 */

import { type Node, parseTree } from "jsonc-parser";

/** The file's indentation unit (`"  "`, `"\t"`…). */
export function indentUnit(text: string): string {
  return /\n([ \t]+)"/.exec(text)?.[1] ?? "  ";
}

function tree(text: string): Node {
  const root = parseTree(text, [], { disallowComments: true, allowTrailingComma: false });
  if (root === undefined) throw new SyntaxError("not a JSON document");
  return root;
}

function property(object: Node, key: string): Node | undefined {
  return object.children?.find((p) => p.children?.[0]?.value === key);
}

function lineIndent(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/**
 * Writes a value at an indentation: objects one property per line in the file's unit, lists of
 * plain values on one line (`["--debug"]`), as people write daemon.json.
 */
function render(value: unknown, indent: string, unit: string, inline: boolean): string {
  if (Array.isArray(value)) {
    const plain = value.every((v) => typeof v !== "object" || v === null);
    if (inline || plain) return `[${value.map((v) => render(v, indent, unit, true)).join(", ")}]`;
    const inner = indent + unit;
    return `[\n${value.map((v) => inner + render(v, inner, unit, false)).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    if (inline) {
      return `{ ${
        entries.map(([k, v]) => `${JSON.stringify(k)}: ${render(v, indent, unit, true)}`).join(", ")
      } }`;
    }
    const inner = indent + unit;
    const lines = entries.map(([k, v]) =>
      `${inner}${JSON.stringify(k)}: ${render(v, inner, unit, false)}`
    );
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/**
 * Sets `path` to `value`, creating missing objects on the way.
 *
 * @example
 * ```ts
 * setJsonValue('{\n  "a": 1\n}\n', ["b"], true); // '{\n  "a": 1,\n  "b": true\n}\n'
 * ```
 */
export function setJsonValue(text: string, path: readonly string[], value: unknown): string {
  const unit = indentUnit(text);
  let node = tree(text);
  for (let depth = 0; depth < path.length; depth++) {
    const key = path[depth];
    const found = property(node, key);
    if (found === undefined) {
      // Insert the rest of the path as one new property of this object.
      let inserted: unknown = value;
      for (const k of path.slice(depth + 1).reverse()) inserted = { [k]: inserted };
      return insertProperty(text, node, key, inserted, unit);
    }
    const valueNode = found.children![1];
    if (depth === path.length - 1) {
      const indent = lineIndent(text, found.offset);
      const inline =
        !text.slice(valueNode.offset, valueNode.offset + valueNode.length).includes("\n") &&
        !text.slice(node.offset, node.offset + node.length).includes("\n");
      return text.slice(0, valueNode.offset) + render(value, indent, unit, inline) +
        text.slice(valueNode.offset + valueNode.length);
    }
    if (valueNode.type !== "object") {
      // A non-object in the way: replace it by the object the rest of the path needs.
      let replaced: unknown = value;
      for (const k of path.slice(depth + 1).reverse()) replaced = { [k]: replaced };
      return setJsonValue(text, path.slice(0, depth + 1), replaced);
    }
    node = valueNode;
  }
  return text;
}

function insertProperty(
  text: string,
  object: Node,
  key: string,
  value: unknown,
  unit: string,
): string {
  const body = text.slice(object.offset, object.offset + object.length);
  const last = object.children?.[object.children.length - 1];
  const close = object.offset + object.length - 1;
  if (!body.includes("\n") && last !== undefined) {
    // One-line object: stay on one line.
    const end = last.offset + last.length;
    return `${text.slice(0, end)}, ${JSON.stringify(key)}: ${render(value, "", unit, true)}${
      text.slice(end)
    }`;
  }
  if (last === undefined) {
    const indent = lineIndent(text, object.offset);
    const inner = indent + unit;
    return `${text.slice(0, object.offset + 1)}\n${inner}${JSON.stringify(key)}: ${
      render(value, inner, unit, false)
    }\n${indent}${text.slice(close)}`;
  }
  const indent = lineIndent(text, last.offset);
  const end = last.offset + last.length;
  return `${text.slice(0, end)},\n${indent}${JSON.stringify(key)}: ${
    render(value, indent, unit, false)
  }${text.slice(end)}`;
}

/** Removes the property at `path`; the text is unchanged when it is absent. */
export function removeJsonValue(text: string, path: readonly string[]): string {
  let object = tree(text);
  for (const key of path.slice(0, -1)) {
    const next = property(object, key)?.children?.[1];
    if (next?.type !== "object") return text;
    object = next;
  }
  const children = object.children ?? [];
  const index = children.findIndex((p) => p.children?.[0]?.value === path[path.length - 1]);
  if (index < 0) return text;
  const target = children[index];
  if (children.length === 1) {
    // The object becomes empty: `{}`.
    return text.slice(0, object.offset + 1) + text.slice(object.offset + object.length - 1);
  }
  if (index < children.length - 1) {
    // Up to the next property, so its line keeps its indentation.
    return text.slice(0, target.offset) + text.slice(children[index + 1].offset);
  }
  // The last one: from the end of the one before, taking the comma with it.
  const previous = children[index - 1];
  return text.slice(0, previous.offset + previous.length) +
    text.slice(target.offset + target.length);
}
