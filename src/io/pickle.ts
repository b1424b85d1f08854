// Layer: io. A pickle virtual machine for the opcodes torch.save emits
// (protocols 2-5), and no more. It never imports or runs anything: every
// GLOBAL goes through `hooks.global`, which decides what a name means (and
// refuses everything it does not know), so loading a file cannot execute code.
//
// Python values map to: None -> null, bool -> boolean, int -> number (bigint
// past 2^53), float -> number, str -> string, bytes -> Uint8Array, list ->
// array, tuple -> frozen array, dict -> Map. Anything else is whatever the
// hooks return.
//
// Hostile input: every opcode does O(1) work plus the bytes it reads, and the
// stack, memo, containers, nesting and integers are bounded (PICKLE_LIMITS), so
// time and memory are linear in the input. The result may share objects (DUP,
// memo GET): it is a DAG whose tree expansion can be exponential, so walk it
// with a memo (see torchFile.ts), never as a tree.
import { decodeUtf8Strict, PICKLE_LIMITS, resolveLimits, type PickleLimits } from './limits.js';

/** A Python callable the hooks allow: a class (REDUCE/NEWOBJ) or a function (REDUCE). */
export interface PickleCallable {
  readonly qualifiedName: string;
  call(args: readonly unknown[]): unknown;
}

export interface PickleHooks {
  /** The callable for `module.name`; must throw for names it does not allow. */
  global(module: string, name: string): PickleCallable;
  /** Resolves a persistent id (BINPERSID), e.g. a torch storage reference. */
  persistentLoad(pid: unknown): unknown;
  /** Applies BUILD's `state` to `obj` (Python's __setstate__), returning the object to keep. */
  build(obj: unknown, state: unknown): unknown;
}

/** Every error unpickle throws; the message names the source and the byte offset. */
class PickleError extends Error {}

/** A marker on the stack; never escapes the VM. */
const MARK = Symbol('mark');
type Slot = unknown;

/**
 * Runs the pickle in `bytes`. `limits` overrides PICKLE_LIMITS for this call. Containers the VM
 * builds have their nesting depth tracked as they are built (values a hook returns count as leaves,
 * and a list grown after being put in a tuple does not update the tuple), so a consumer that recurses
 * must still bound its own depth.
 */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, source = '<buffer>', limits?: Partial<PickleLimits>): unknown {
  const limit = resolveLimits(PICKLE_LIMITS, limits, 'pickle');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let opAt = 0;
  let stack: Slot[] = [];
  const marks: Slot[][] = [];
  /** Items held in the stacks saved by MARK (so the total is checked in O(1)). */
  let savedItems = 0;
  const memo = new Map<number, unknown>();
  /** Nesting depth of each container the VM built (1 = holds no container). */
  const depths = new WeakMap<object, number>();

  const fail = (why: string): never => {
    throw new PickleError(`${source}: pickle: ${why} (opcode at byte ${opAt})`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail(`needs ${n} more bytes but the data ends at byte ${bytes.length}`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} is larger than the data`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return decodeUtf8Strict(b, 'string');
    } catch (e) {
      return fail(`${(e as Error).message} (${b.length} bytes)`);
    }
  };
  const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  /** A text argument ending in '\n' (protocol 0 style opcodes). */
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a text argument has no terminating newline');
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (v: Slot): void => {
    if (stack.length + savedItems >= limit.maxStackItems) fail(`stack holds more than ${limit.maxStackItems} items (limit pickle.maxStackItems)`);
    stack.push(v);
  };
  const mark = (): void => {
    if (marks.length >= limit.maxDepth) fail(`nesting deeper than ${limit.maxDepth} (limit pickle.maxDepth)`);
    savedItems += stack.length;
    marks.push(stack);
    stack = [];
  };
  const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? (depths.get(v) ?? 0) : 0);
  const setDepth = (container: object, depth: number): void => {
    if (depth > limit.maxDepth) fail(`nesting deeper than ${limit.maxDepth} (limit pickle.maxDepth)`);
    depths.set(container, depth);
  };
  /** Registers a new container holding `items`; returns it. */
  const built = <T extends object>(container: T, items: readonly unknown[]): T => {
    if (items.length > limit.maxContainerItems) fail(`a container holds more than ${limit.maxContainerItems} items (limit pickle.maxContainerItems)`);
    let deepest = 0;
    for (const x of items) deepest = Math.max(deepest, depthOf(x));
    setDepth(container, deepest + 1);
    return container;
  };
  /** `child` was put into the existing `container`: it may now be deeper, or fuller. */
  const grew = (container: object, child: unknown, size: number): void => {
    if (size > limit.maxContainerItems) fail(`a container holds more than ${limit.maxContainerItems} items (limit pickle.maxContainerItems)`);
    const depth = depthOf(child) + 1;
    if (depth > depthOf(container)) setDepth(container, depth);
  };
  const tuple = (items: unknown[]): readonly unknown[] => built(Object.freeze(items), items);
  const memoSet = (key: number, v: unknown): void => {
    if (!memo.has(key) && memo.size >= limit.maxMemoEntries) fail(`memo holds more than ${limit.maxMemoEntries} entries (limit pickle.maxMemoEntries)`);
    memo.set(key, v);
  };
  const pop = (): Slot => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected MARK on the stack');
    return v;
  };
  const top = (): Slot => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): Slot[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) fail('no MARK to pop to');
    stack = prev!;
    savedItems -= stack.length;
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} is not set`);
    return memo.get(i);
  };
  const callable = (v: unknown): PickleCallable => {
    if (v === null || typeof v !== 'object' || typeof (v as PickleCallable).call !== 'function' || Array.isArray(v)) {
      fail('REDUCE/NEWOBJ target is not a callable');
    }
    return v as PickleCallable;
  };
  const tupleArgs = (v: unknown): readonly unknown[] => {
    if (!Array.isArray(v)) fail('call arguments are not a tuple');
    return v as unknown[];
  };
  const asList = (v: unknown): unknown[] => {
    if (!Array.isArray(v) || Object.isFrozen(v)) fail('APPEND target is not a list');
    return v as unknown[];
  };
  const asDict = (v: unknown): Map<unknown, unknown> => {
    if (!(v instanceof Map)) fail('SETITEM target is not a dict');
    return v as Map<unknown, unknown>;
  };
  const setItems = (d: Map<unknown, unknown>, kv: Slot[]): void => {
    if (kv.length % 2 !== 0) fail('SETITEMS has an odd number of items');
    for (let i = 0; i < kv.length; i += 2) setItem(d, kv[i], kv[i + 1]);
  };
  const setItem = (d: Map<unknown, unknown>, k: unknown, v: unknown): void => {
    d.set(dictKey(k), v);
    grew(d, v, d.size);
  };
  const append = (list: unknown[], v: unknown): void => {
    list.push(v);
    grew(list, v, list.length);
  };
  const dictKey = (k: unknown): unknown => {
    // Tuples are compared by value in Python; here only primitive keys make sense.
    if (k !== null && typeof k === 'object') fail('dict keys must be strings, numbers or None');
    return k;
  };
  const intTooLong = (n: number, unit: string): void => {
    if (n > limit.maxIntBytes) fail(`an integer of ${n} ${unit} is longer than ${limit.maxIntBytes} (limit pickle.maxIntBytes)`);
  };
  /** Little-endian two's complement, read through hex (linear, where shifting byte by byte is quadratic). */
  const intOf = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    intTooLong(b.length, 'bytes');
    let v = BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const textInt = (s: string): number | bigint => {
    intTooLong(s.length, 'characters');
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[-+]?\d+$/.test(t)) fail(`bad integer literal ${JSON.stringify(s)}`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const quoted = (s: string): string => {
    const q = s[0];
    if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) fail(`bad string literal ${JSON.stringify(s)}`);
    return s.slice(1, -1);
  };

  const run = (): unknown => {
    for (;;) {
      opAt = pos;
      if (pos >= bytes.length) fail('data ends before STOP');
      const op = bytes[pos++]!;
      switch (op) {
        case 0x80:
          u8();
          break; // PROTO
        case 0x95:
          u64();
          break; // FRAME: framing is only a read-ahead hint
        case 0x2e: {
          // STOP
          const result = pop();
          return result;
        }
        case 0x28:
          mark();
          break; // MARK
        case 0x30:
          pop();
          break; // POP
        case 0x31:
          popMark();
          break; // POP_MARK
        case 0x32:
          push(top());
          break; // DUP
        case 0x4e:
          push(null);
          break; // NONE
        case 0x88:
          push(true);
          break; // NEWTRUE
        case 0x89:
          push(false);
          break; // NEWFALSE
        case 0x4a:
          push(i32());
          break; // BININT
        case 0x4b:
          push(u8());
          break; // BININT1
        case 0x4d:
          push(u16());
          break; // BININT2
        case 0x8a:
          push(intOf(take(u8())));
          break; // LONG1
        case 0x8b: {
          // LONG4
          const n = i32();
          if (n < 0) fail('LONG4 with a negative length');
          push(intOf(take(n)));
          break;
        }
        case 0x49: {
          // INT (text); protocol 0 spells booleans 01 / 00
          const s = line();
          push(s === '01' ? true : s === '00' ? false : textInt(s));
          break;
        }
        case 0x4c:
          push(textInt(line()));
          break; // LONG (text)
        case 0x47: {
          // BINFLOAT: big-endian
          need(8);
          push(view.getFloat64(pos, false));
          pos += 8;
          break;
        }
        case 0x46: {
          // FLOAT (text)
          const v = Number(line());
          if (Number.isNaN(v)) fail('bad float literal');
          push(v);
          break;
        }
        case 0x8c:
          push(utf8(take(u8())));
          break; // SHORT_BINUNICODE
        case 0x58:
          push(utf8(take(u32())));
          break; // BINUNICODE
        case 0x8d:
          push(utf8(take(u64())));
          break; // BINUNICODE8
        case 0x56:
          push(line());
          break; // UNICODE (raw-unicode-escape; ASCII names in practice)
        case 0x55:
          push(latin1(take(u8())));
          break; // SHORT_BINSTRING
        case 0x54: {
          // BINSTRING
          const n = i32();
          if (n < 0) fail('BINSTRING with a negative length');
          push(latin1(take(n)));
          break;
        }
        case 0x53:
          push(quoted(line()));
          break; // STRING
        case 0x43:
          push(take(u8()).slice());
          break; // SHORT_BINBYTES
        case 0x42:
          push(take(u32()).slice());
          break; // BINBYTES
        case 0x8e:
          push(take(u64()).slice());
          break; // BINBYTES8
        case 0x96:
          push(take(u64()).slice());
          break; // BYTEARRAY8
        case 0x7d:
          push(built(new Map(), []));
          break; // EMPTY_DICT
        case 0x64: {
          // DICT
          const d = built(new Map<unknown, unknown>(), []);
          setItems(d, popMark());
          push(d);
          break;
        }
        case 0x5d:
          push(built([], []));
          break; // EMPTY_LIST
        case 0x6c: {
          // LIST (popMark replaces `stack`, so take the items before pushing)
          const items = popMark();
          push(built(items, items));
          break;
        }
        case 0x29:
          push(tuple([]));
          break; // EMPTY_TUPLE
        case 0x74:
          push(tuple(popMark()));
          break; // TUPLE
        case 0x85:
          push(tuple([pop()]));
          break; // TUPLE1
        case 0x86: {
          // TUPLE2
          const b = pop();
          const a = pop();
          push(tuple([a, b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = pop();
          const b = pop();
          const a = pop();
          push(tuple([a, b, c]));
          break;
        }
        case 0x61: {
          // APPEND
          const v = pop();
          append(asList(top()), v);
          break;
        }
        case 0x65: {
          // APPENDS (one by one: spreading a long batch into push() overflows the call stack)
          const items = popMark();
          const list = asList(top());
          for (const v of items) append(list, v);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = pop();
          const k = pop();
          setItem(asDict(top()), k, v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = popMark();
          setItems(asDict(top()), items);
          break;
        }
        case 0x71:
          memoSet(u8(), top());
          break; // BINPUT
        case 0x72:
          memoSet(u32(), top());
          break; // LONG_BINPUT
        case 0x70:
          memoSet(Number(textInt(line())), top());
          break; // PUT
        case 0x94:
          memoSet(memo.size, top());
          break; // MEMOIZE
        case 0x68:
          push(memoGet(u8()));
          break; // BINGET
        case 0x6a:
          push(memoGet(u32()));
          break; // LONG_BINGET
        case 0x67:
          push(memoGet(Number(textInt(line()))));
          break; // GET
        case 0x63: {
          // GLOBAL
          const module = line();
          const name = line();
          push(hooks.global(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
          push(hooks.global(module as string, name as string));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = tupleArgs(pop());
          const f = callable(pop());
          push(f.call(args));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = tupleArgs(pop());
          const cls = callable(pop());
          push(cls.call(args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = pop();
          const args = tupleArgs(pop());
          const cls = callable(pop());
          if (!(kwargs instanceof Map) || kwargs.size > 0) fail(`keyword arguments to ${cls.qualifiedName} are not supported`);
          push(cls.call(args));
          break;
        }
        case 0x62: {
          // BUILD
          const state = pop();
          const obj = pop();
          push(hooks.build(obj, state));
          break;
        }
        case 0x51:
          push(hooks.persistentLoad(pop()));
          break; // BINPERSID
        case 0x50:
          push(hooks.persistentLoad(line()));
          break; // PERSID
        default:
          fail(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  };
  try {
    return run();
  } catch (e) {
    if (e instanceof PickleError) throw e;
    // A hook refused something (e.g. a global): say where in the pickle it happened.
    throw new PickleError(`${source}: ${e instanceof Error ? e.message : String(e)} (pickle opcode at byte ${opAt})`);
  }
}

export { PickleError };
