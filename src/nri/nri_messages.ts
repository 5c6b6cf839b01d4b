/**
 * The NRI messages the plugin reads and writes (package `nri.pkg.api.v1alpha1` of containerd's
 * NRI `api.proto`), as TypeScript types whose field names are the proto fields in lowerCamelCase,
 * with an encoder and a decoder for each.
 *
 * Each message is described once, as a table of its fields (number, name, kind); one generic
 * encoder and one generic decoder walk the tables. Only the fields the toolkit uses are listed:
 * the decoder skips every other field (memory and CPU resources, rlimits, updates, evictions),
 * so a newer runtime's additions pass unharmed. Proto3 rules apply: scalars at their default
 * (0, "", false) are not written, and decoding fills them in; a nested message is present or
 * `undefined`. The optional-value wrappers (`OptionalInt`, `OptionalFileMode`, …) stay messages,
 * `{ value }`, as in the proto: absent means "not set", not 0.
 *
 * ```ts
 * const bytes = encodeContainerAdjustment({ env: [{ key: "XPU_NRI_SEEN", value: "1" }] });
 * decodeContainerAdjustment(bytes).env; // [{ key: "XPU_NRI_SEEN", value: "1" }]
 * ```
 *
 * @module
 */

import {
  fieldBool,
  fieldBytes,
  fieldInt32,
  fieldInt64,
  fieldMapEntry,
  fieldString,
  fieldUint32,
  ProtoWriter,
  readFields,
} from "./protobuf_wire.ts";

/** The events a plugin subscribes to (the `Event` enum). */
export const NriEvent = {
  UNKNOWN: 0,
  RUN_POD_SANDBOX: 1,
  STOP_POD_SANDBOX: 2,
  REMOVE_POD_SANDBOX: 3,
  CREATE_CONTAINER: 4,
  POST_CREATE_CONTAINER: 5,
  START_CONTAINER: 6,
  POST_START_CONTAINER: 7,
  UPDATE_CONTAINER: 8,
  POST_UPDATE_CONTAINER: 9,
  STOP_CONTAINER: 10,
  REMOVE_CONTAINER: 11,
  LAST: 12,
} as const;

/** The `ConfigureResponse.events` mask for `events`: bit `event - 1` per event. */
export function eventMask(events: readonly number[]): number {
  return events.reduce((mask, event) => mask | (1 << (event - 1)), 0);
}

/** The `ContainerState` enum. */
export const NriContainerState = {
  CONTAINER_UNKNOWN: 0,
  CONTAINER_CREATED: 1,
  CONTAINER_PAUSED: 2,
  CONTAINER_RUNNING: 3,
  CONTAINER_STOPPED: 4,
} as const;

/** `KeyValue`: an environment variable of an adjustment (a key starting with "-" removes it). */
export interface KeyValue {
  key: string;
  value: string;
}

/** `OptionalInt`, `OptionalInt64`, `OptionalUInt32`, `OptionalFileMode`: a value that may be unset. */
export interface OptionalNumber {
  value: number;
}

/** `Mount`. */
export interface Mount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** `Hook`: one OCI hook. */
export interface Hook {
  path: string;
  args: string[];
  env: string[];
  /** `OptionalInt`, seconds. */
  timeout?: OptionalNumber;
}

/** `Hooks`: the OCI hooks by stage. Decoding fills every list; an adjustment may omit them. */
export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** `LinuxNamespace`. */
export interface LinuxNamespace {
  type: string;
  path: string;
}

/** `LinuxDevice`: a device node. The runtime adds its cgroup allow rule ("rw", "rwm" for "b"). */
export interface LinuxDevice {
  path: string;
  /** "c", "b", "u" or "p". */
  type: string;
  major: number;
  minor: number;
  /** `OptionalFileMode`: permission bits and type bits as Go's `os.FileMode`. */
  fileMode?: OptionalNumber;
  /** `OptionalUInt32`. */
  uid?: OptionalNumber;
  /** `OptionalUInt32`. */
  gid?: OptionalNumber;
}

/** `LinuxDeviceCgroup`: a device cgroup rule. */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type: string;
  /** `OptionalInt64`; absent = any. */
  major?: OptionalNumber;
  /** `OptionalInt64`; absent = any. */
  minor?: OptionalNumber;
  access: string;
}

/** `CDIDevice`: a fully-qualified CDI device name the runtime resolves itself. */
export interface CDIDevice {
  name: string;
}

/**
 * `LinuxResources`, the device rules only (memory, CPU, hugepages, pids… are skipped). NRI
 * 0.8 does not apply `devices` from an adjustment: device cgroup rules come with `LinuxDevice`s.
 */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
}

/** `LinuxContainer`. */
export interface LinuxContainer {
  namespaces: LinuxNamespace[];
  devices: LinuxDevice[];
  resources?: LinuxResources;
  /** `OptionalInt`. */
  oomScoreAdj?: OptionalNumber;
  cgroupsPath: string;
}

/** `Container`: the container being created (rlimits skipped). */
export interface Container {
  id: string;
  podSandboxId: string;
  name: string;
  /** A {@link NriContainerState} value. */
  state: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  args: string[];
  /** `NAME=value` strings, as in the OCI spec. */
  env: string[];
  mounts: Mount[];
  hooks?: Hooks;
  linux?: LinuxContainer;
  pid: number;
}

/** `LinuxPodSandbox` (its resources skipped). */
export interface LinuxPodSandbox {
  cgroupParent: string;
  cgroupsPath: string;
  namespaces: LinuxNamespace[];
}

/** `PodSandbox`. */
export interface PodSandbox {
  id: string;
  name: string;
  uid: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
  linux?: LinuxPodSandbox;
  pid: number;
  ips: string[];
}

/** `LinuxContainerAdjustment`. */
export interface LinuxContainerAdjustment {
  devices?: LinuxDevice[];
  resources?: LinuxResources;
  cgroupsPath?: string;
  oomScoreAdj?: OptionalNumber;
}

/** `ContainerAdjustment`: what a plugin changes in the container being created (rlimits skipped). */
export interface ContainerAdjustment {
  annotations?: Record<string, string>;
  mounts?: Mount[];
  env?: KeyValue[];
  hooks?: Hooks;
  linux?: LinuxContainerAdjustment;
  /** The proto's `CDI_devices`. */
  cdiDevices?: CDIDevice[];
}

/** `RegisterPluginRequest`. */
export interface RegisterPluginRequest {
  pluginName: string;
  /** Two digits, "00" to "99": plugins are called in this order. */
  pluginIdx: string;
}

/** `ConfigureRequest`. */
export interface ConfigureRequest {
  config: string;
  runtimeName: string;
  runtimeVersion: string;
  /** Milliseconds. */
  registrationTimeout: number;
  /** Milliseconds: how long the runtime waits for each answer. */
  requestTimeout: number;
}

/** `ConfigureResponse`. */
export interface ConfigureResponse {
  /** The {@link eventMask} subscribed to; 0 means every event. */
  events: number;
}

/** `SynchronizeRequest`. */
export interface SynchronizeRequest {
  pods: PodSandbox[];
  containers: Container[];
  more: boolean;
}

/** `SynchronizeResponse` (no updates: the plugin never changes existing containers). */
export interface SynchronizeResponse {
  /** Must echo the request's `more`: the runtime drops a plugin that does not. */
  more: boolean;
}

/** `CreateContainerRequest`. */
export interface CreateContainerRequest {
  pod?: PodSandbox;
  container?: Container;
}

/** `CreateContainerResponse` (no updates, no evictions). */
export interface CreateContainerResponse {
  adjust?: ContainerAdjustment;
}

/** `StateChangeEvent`. */
export interface StateChangeEvent {
  /** A {@link NriEvent} value. */
  event: number;
  pod?: PodSandbox;
  container?: Container;
}

/** `Empty`: the request and answer of `Shutdown` and the answer of `RegisterPlugin`. */
export type Empty = Record<string, never>;

// ---------------------------------------------------------------------------------------------
// The tables and the two walkers.

type Kind =
  | "string"
  | "bool"
  | "int32"
  | "uint32"
  | "int64"
  | "strings"
  | "map"
  | { message: Schema }
  | { messages: Schema };

interface FieldSpec {
  number: number;
  name: string;
  kind: Kind;
}

type Schema = readonly FieldSpec[];

type Fields = Record<string, unknown>;

function defaultOf(kind: Kind): unknown {
  switch (kind) {
    case "string":
      return "";
    case "bool":
      return false;
    case "int32":
    case "uint32":
    case "int64":
      return 0;
    case "strings":
      return [];
    case "map":
      return {};
    default:
      return "messages" in kind ? [] : undefined;
  }
}

/** Sets `record[key]` as an own property: a key "__proto__" stays data, never a prototype. */
function setEntry(record: Fields, key: string, value: unknown): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function decodeWith(schema: Schema, bytes: Uint8Array): Fields {
  const out: Fields = {};
  for (const spec of schema) {
    const value = defaultOf(spec.kind);
    if (value !== undefined) out[spec.name] = value;
  }
  for (const field of readFields(bytes)) {
    const spec = schema.find((s) => s.number === field.number);
    if (!spec) continue;
    const kind = spec.kind;
    switch (kind) {
      case "string":
        out[spec.name] = fieldString(field);
        break;
      case "bool":
        out[spec.name] = fieldBool(field);
        break;
      case "int32":
        out[spec.name] = fieldInt32(field);
        break;
      case "uint32":
        out[spec.name] = fieldUint32(field);
        break;
      case "int64":
        out[spec.name] = fieldInt64(field);
        break;
      case "strings":
        (out[spec.name] as string[]).push(fieldString(field));
        break;
      case "map": {
        const [key, value] = fieldMapEntry(field);
        setEntry(out[spec.name] as Fields, key, value);
        break;
      }
      default:
        if ("message" in kind) {
          // A message field seen twice is merged, as the format says.
          const inner = decodeWith(kind.message, fieldBytes(field));
          const earlier = out[spec.name] as Fields | undefined;
          out[spec.name] = earlier ? mergeFields(kind.message, earlier, inner) : inner;
        } else {
          (out[spec.name] as Fields[]).push(decodeWith(kind.messages, fieldBytes(field)));
        }
    }
  }
  return out;
}

/**
 * The proto merge of a later decoding of one message into an earlier one, in place (`earlier` is
 * the decoder's own object): later scalars win, lists and maps add up. In place, so that a field
 * repeated many times costs what its bytes do, not their square.
 */
function mergeFields(schema: Schema, earlier: Fields, later: Fields): Fields {
  for (const spec of schema) {
    const a = earlier[spec.name];
    const b = later[spec.name];
    const kind = spec.kind;
    if (kind === "strings" || (typeof kind === "object" && "messages" in kind)) {
      for (const item of b as unknown[]) (a as unknown[]).push(item);
    } else if (kind === "map") {
      for (const [k, v] of Object.entries(b as Fields)) setEntry(a as Fields, k, v);
    } else if (typeof kind === "object") {
      // An absent message stays absent (no key), as a single decoding leaves it.
      if (a && b) mergeFields(kind.message, a as Fields, b as Fields);
      else if (b !== undefined) earlier[spec.name] = b;
    } else if (b !== defaultOf(kind)) {
      earlier[spec.name] = b;
    }
  }
  return earlier;
}

function writeWith(writer: ProtoWriter, schema: Schema, value: Fields): void {
  for (const spec of schema) {
    const v = value[spec.name];
    if (v === undefined) continue;
    const kind = spec.kind;
    switch (kind) {
      case "string":
        writer.string(spec.number, v as string);
        break;
      case "bool":
        writer.bool(spec.number, v as boolean);
        break;
      case "int32":
      case "uint32":
      case "int64":
        writer.int(spec.number, v as number);
        break;
      case "strings":
        writer.strings(spec.number, v as string[]);
        break;
      case "map":
        writer.stringMap(spec.number, v as Record<string, string>);
        break;
      default:
        if ("message" in kind) {
          writer.message(spec.number, (w) => writeWith(w, kind.message, v as Fields));
        } else {
          for (const item of v as Fields[]) {
            writer.message(spec.number, (w) => writeWith(w, kind.messages, item));
          }
        }
    }
  }
}

function encodeWith(schema: Schema, value: object): Uint8Array {
  const writer = new ProtoWriter();
  writeWith(writer, schema, value as Fields);
  return writer.finish();
}

const f = (number: number, name: string, kind: Kind): FieldSpec => ({ number, name, kind });
const one = (message: Schema): Kind => ({ message });
const many = (messages: Schema): Kind => ({ messages });

const OPTIONAL_INT64: Schema = [f(1, "value", "int64")];
const OPTIONAL_UINT32: Schema = [f(1, "value", "uint32")];

const KEY_VALUE: Schema = [f(1, "key", "string"), f(2, "value", "string")];
const MOUNT: Schema = [
  f(1, "destination", "string"),
  f(2, "type", "string"),
  f(3, "source", "string"),
  f(4, "options", "strings"),
];
const HOOK: Schema = [
  f(1, "path", "string"),
  f(2, "args", "strings"),
  f(3, "env", "strings"),
  f(4, "timeout", one(OPTIONAL_INT64)),
];
const HOOKS: Schema = [
  f(1, "prestart", many(HOOK)),
  f(2, "createRuntime", many(HOOK)),
  f(3, "createContainer", many(HOOK)),
  f(4, "startContainer", many(HOOK)),
  f(5, "poststart", many(HOOK)),
  f(6, "poststop", many(HOOK)),
];
const LINUX_NAMESPACE: Schema = [f(1, "type", "string"), f(2, "path", "string")];
const LINUX_DEVICE: Schema = [
  f(1, "path", "string"),
  f(2, "type", "string"),
  f(3, "major", "int64"),
  f(4, "minor", "int64"),
  f(5, "fileMode", one(OPTIONAL_UINT32)),
  f(6, "uid", one(OPTIONAL_UINT32)),
  f(7, "gid", one(OPTIONAL_UINT32)),
];
const LINUX_DEVICE_CGROUP: Schema = [
  f(1, "allow", "bool"),
  f(2, "type", "string"),
  f(3, "major", one(OPTIONAL_INT64)),
  f(4, "minor", one(OPTIONAL_INT64)),
  f(5, "access", "string"),
];
const CDI_DEVICE: Schema = [f(1, "name", "string")];
const LINUX_RESOURCES: Schema = [f(7, "devices", many(LINUX_DEVICE_CGROUP))];
const LINUX_CONTAINER: Schema = [
  f(1, "namespaces", many(LINUX_NAMESPACE)),
  f(2, "devices", many(LINUX_DEVICE)),
  f(3, "resources", one(LINUX_RESOURCES)),
  f(4, "oomScoreAdj", one(OPTIONAL_INT64)),
  f(5, "cgroupsPath", "string"),
];
const CONTAINER: Schema = [
  f(1, "id", "string"),
  f(2, "podSandboxId", "string"),
  f(3, "name", "string"),
  f(4, "state", "int32"),
  f(5, "labels", "map"),
  f(6, "annotations", "map"),
  f(7, "args", "strings"),
  f(8, "env", "strings"),
  f(9, "mounts", many(MOUNT)),
  f(10, "hooks", one(HOOKS)),
  f(11, "linux", one(LINUX_CONTAINER)),
  f(12, "pid", "uint32"),
];
const LINUX_POD_SANDBOX: Schema = [
  f(3, "cgroupParent", "string"),
  f(4, "cgroupsPath", "string"),
  f(5, "namespaces", many(LINUX_NAMESPACE)),
];
const POD_SANDBOX: Schema = [
  f(1, "id", "string"),
  f(2, "name", "string"),
  f(3, "uid", "string"),
  f(4, "namespace", "string"),
  f(5, "labels", "map"),
  f(6, "annotations", "map"),
  f(7, "runtimeHandler", "string"),
  f(8, "linux", one(LINUX_POD_SANDBOX)),
  f(9, "pid", "uint32"),
  f(10, "ips", "strings"),
];
const LINUX_CONTAINER_ADJUSTMENT: Schema = [
  f(1, "devices", many(LINUX_DEVICE)),
  f(2, "resources", one(LINUX_RESOURCES)),
  f(3, "cgroupsPath", "string"),
  f(4, "oomScoreAdj", one(OPTIONAL_INT64)),
];
const CONTAINER_ADJUSTMENT: Schema = [
  f(2, "annotations", "map"),
  f(3, "mounts", many(MOUNT)),
  f(4, "env", many(KEY_VALUE)),
  f(5, "hooks", one(HOOKS)),
  f(6, "linux", one(LINUX_CONTAINER_ADJUSTMENT)),
  f(8, "cdiDevices", many(CDI_DEVICE)),
];
const REGISTER_PLUGIN_REQUEST: Schema = [
  f(1, "pluginName", "string"),
  f(2, "pluginIdx", "string"),
];
const CONFIGURE_REQUEST: Schema = [
  f(1, "config", "string"),
  f(2, "runtimeName", "string"),
  f(3, "runtimeVersion", "string"),
  f(4, "registrationTimeout", "int64"),
  f(5, "requestTimeout", "int64"),
];
const CONFIGURE_RESPONSE: Schema = [f(2, "events", "int32")];
const SYNCHRONIZE_REQUEST: Schema = [
  f(1, "pods", many(POD_SANDBOX)),
  f(2, "containers", many(CONTAINER)),
  f(3, "more", "bool"),
];
/** What the plugin needs of a `SynchronizeRequest`: the pods and containers are skipped unread. */
const SYNCHRONIZE_MORE: Schema = [f(3, "more", "bool")];
const SYNCHRONIZE_RESPONSE: Schema = [f(2, "more", "bool")];
const CREATE_CONTAINER_REQUEST: Schema = [
  f(1, "pod", one(POD_SANDBOX)),
  f(2, "container", one(CONTAINER)),
];
const CREATE_CONTAINER_RESPONSE: Schema = [f(1, "adjust", one(CONTAINER_ADJUSTMENT))];
const STATE_CHANGE_EVENT: Schema = [
  f(1, "event", "int32"),
  f(2, "pod", one(POD_SANDBOX)),
  f(3, "container", one(CONTAINER)),
];
const EMPTY: Schema = [];

/** A message's encoder and decoder. */
function codec<T extends object>(schema: Schema) {
  return {
    encode: (value: T): Uint8Array => encodeWith(schema, value),
    decode: (bytes: Uint8Array): T => decodeWith(schema, bytes) as T,
  };
}

const codecs = {
  keyValue: codec<KeyValue>(KEY_VALUE),
  mount: codec<Mount>(MOUNT),
  hook: codec<Hook>(HOOK),
  hooks: codec<Hooks>(HOOKS),
  linuxDevice: codec<LinuxDevice>(LINUX_DEVICE),
  linuxDeviceCgroup: codec<LinuxDeviceCgroup>(LINUX_DEVICE_CGROUP),
  container: codec<Container>(CONTAINER),
  podSandbox: codec<PodSandbox>(POD_SANDBOX),
  containerAdjustment: codec<ContainerAdjustment>(CONTAINER_ADJUSTMENT),
  registerPluginRequest: codec<RegisterPluginRequest>(REGISTER_PLUGIN_REQUEST),
  configureRequest: codec<ConfigureRequest>(CONFIGURE_REQUEST),
  configureResponse: codec<ConfigureResponse>(CONFIGURE_RESPONSE),
  synchronizeRequest: codec<SynchronizeRequest>(SYNCHRONIZE_REQUEST),
  synchronizeResponse: codec<SynchronizeResponse>(SYNCHRONIZE_RESPONSE),
  synchronizeMore: codec<{ more: boolean }>(SYNCHRONIZE_MORE),
  createContainerRequest: codec<CreateContainerRequest>(CREATE_CONTAINER_REQUEST),
  createContainerResponse: codec<CreateContainerResponse>(CREATE_CONTAINER_RESPONSE),
  stateChangeEvent: codec<StateChangeEvent>(STATE_CHANGE_EVENT),
  empty: codec<Empty>(EMPTY),
};

/** Encodes a `KeyValue`. */
export const encodeKeyValue = codecs.keyValue.encode;
/** Decodes a `KeyValue`. */
export const decodeKeyValue = codecs.keyValue.decode;
/** Encodes a `Mount`. */
export const encodeMount = codecs.mount.encode;
/** Decodes a `Mount`. */
export const decodeMount = codecs.mount.decode;
/** Encodes a `Hook`. */
export const encodeHook = codecs.hook.encode;
/** Decodes a `Hook`. */
export const decodeHook = codecs.hook.decode;
/** Encodes a `Hooks`. */
export const encodeHooks = codecs.hooks.encode;
/** Decodes a `Hooks`. */
export const decodeHooks = codecs.hooks.decode;
/** Encodes a `LinuxDevice`. */
export const encodeLinuxDevice = codecs.linuxDevice.encode;
/** Decodes a `LinuxDevice`. */
export const decodeLinuxDevice = codecs.linuxDevice.decode;
/** Encodes a `LinuxDeviceCgroup`. */
export const encodeLinuxDeviceCgroup = codecs.linuxDeviceCgroup.encode;
/** Decodes a `LinuxDeviceCgroup`. */
export const decodeLinuxDeviceCgroup = codecs.linuxDeviceCgroup.decode;
/** Encodes a `Container`. */
export const encodeContainer = codecs.container.encode;
/** Decodes a `Container`. */
export const decodeContainer = codecs.container.decode;
/** Encodes a `PodSandbox`. */
export const encodePodSandbox = codecs.podSandbox.encode;
/** Decodes a `PodSandbox`. */
export const decodePodSandbox = codecs.podSandbox.decode;
/** Encodes a `ContainerAdjustment`. */
export const encodeContainerAdjustment = codecs.containerAdjustment.encode;
/** Decodes a `ContainerAdjustment`. */
export const decodeContainerAdjustment = codecs.containerAdjustment.decode;
/** Encodes a `RegisterPluginRequest`. */
export const encodeRegisterPluginRequest = codecs.registerPluginRequest.encode;
/** Decodes a `RegisterPluginRequest`. */
export const decodeRegisterPluginRequest = codecs.registerPluginRequest.decode;
/** Encodes a `ConfigureRequest`. */
export const encodeConfigureRequest = codecs.configureRequest.encode;
/** Decodes a `ConfigureRequest`. */
export const decodeConfigureRequest = codecs.configureRequest.decode;
/** Encodes a `ConfigureResponse`. */
export const encodeConfigureResponse = codecs.configureResponse.encode;
/** Decodes a `ConfigureResponse`. */
export const decodeConfigureResponse = codecs.configureResponse.decode;
/** Encodes a `SynchronizeRequest`. */
export const encodeSynchronizeRequest = codecs.synchronizeRequest.encode;
/** Decodes a `SynchronizeRequest`. */
export const decodeSynchronizeRequest = codecs.synchronizeRequest.decode;
/**
 * Reads only `more` of a `SynchronizeRequest`: the plugin changes no existing container, and
 * decoding every pod and container of a large node would cost it time and memory for nothing.
 */
export const decodeSynchronizeMore = codecs.synchronizeMore.decode;
/** Encodes a `SynchronizeResponse`. */
export const encodeSynchronizeResponse = codecs.synchronizeResponse.encode;
/** Decodes a `SynchronizeResponse`. */
export const decodeSynchronizeResponse = codecs.synchronizeResponse.decode;
/** Encodes a `CreateContainerRequest`. */
export const encodeCreateContainerRequest = codecs.createContainerRequest.encode;
/** Decodes a `CreateContainerRequest`. */
export const decodeCreateContainerRequest = codecs.createContainerRequest.decode;
/** Encodes a `CreateContainerResponse`. */
export const encodeCreateContainerResponse = codecs.createContainerResponse.encode;
/** Decodes a `CreateContainerResponse`. */
export const decodeCreateContainerResponse = codecs.createContainerResponse.decode;
/** Encodes a `StateChangeEvent`. */
export const encodeStateChangeEvent = codecs.stateChangeEvent.encode;
/** Decodes a `StateChangeEvent`. */
export const decodeStateChangeEvent = codecs.stateChangeEvent.decode;
/** Encodes an `Empty` (no bytes). */
export const encodeEmpty = codecs.empty.encode;
/** Decodes an `Empty` (any fields skipped). */
export const decodeEmpty = codecs.empty.decode;
