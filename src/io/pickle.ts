// Layer: io. A pickle virtual machine for the opcodes torch.save emits
// (protocols 2-5), and no more. It never imports or runs anything: every
// GLOBAL goes through `hooks.global`, which decides what a name means (and
// refuses everything it does not know), so loading a file cannot execute code.
//
// Python values map to: None -> null, bool -> boolean, int -> number (bigint
// past 2^53), float -> number, str -> string, bytes -> Uint8Array, list ->
// array, tuple -> frozen array, dict -> Map. Anything else is whatever the
// hooks return.

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

export function unpickle(bytes: Uint8Array, hooks: PickleHooks, source = '<buffer>'): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let opAt = 0;
  let stack: Slot[] = [];
  const marks: Slot[][] = [];
  const memo = new Map<number, unknown>();

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
  const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  /** A text argument ending in '\n' (protocol 0 style opcodes). */
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a text argument has no terminating newline');
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
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
    for (let i = 0; i < kv.length; i += 2) d.set(dictKey(kv[i]), kv[i + 1]);
  };
  const dictKey = (k: unknown): unknown => {
    // Tuples are compared by value in Python; here only primitive keys make sense.
    if (k !== null && typeof k === 'object') fail('dict keys must be strings, numbers or None');
    return k;
  };
  const intOf = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const textInt = (s: string): number | bigint => {
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
        case 0x80: u8(); break; // PROTO
        case 0x95: u64(); break; // FRAME: framing is only a read-ahead hint
        case 0x2e: { // STOP
          const result = pop();
          return result;
        }
        case 0x28: marks.push(stack); stack = []; break; // MARK
        case 0x30: pop(); break; // POP
        case 0x31: popMark(); break; // POP_MARK
        case 0x32: stack.push(top()); break; // DUP
        case 0x4e: stack.push(null); break; // NONE
        case 0x88: stack.push(true); break; // NEWTRUE
        case 0x89: stack.push(false); break; // NEWFALSE
        case 0x4a: stack.push(i32()); break; // BININT
        case 0x4b: stack.push(u8()); break; // BININT1
        case 0x4d: stack.push(u16()); break; // BININT2
        case 0x8a: stack.push(intOf(take(u8()))); break; // LONG1
        case 0x8b: { // LONG4
          const n = i32();
          if (n < 0) fail('LONG4 with a negative length');
          stack.push(intOf(take(n)));
          break;
        }
        case 0x49: { // INT (text); protocol 0 spells booleans 01 / 00
          const s = line();
          stack.push(s === '01' ? true : s === '00' ? false : textInt(s));
          break;
        }
        case 0x4c: stack.push(textInt(line())); break; // LONG (text)
        case 0x47: { // BINFLOAT: big-endian
          need(8);
          stack.push(view.getFloat64(pos, false));
          pos += 8;
          break;
        }
        case 0x46: { // FLOAT (text)
          const v = Number(line());
          if (Number.isNaN(v)) fail('bad float literal');
          stack.push(v);
          break;
        }
        case 0x8c: stack.push(utf8(take(u8()))); break; // SHORT_BINUNICODE
        case 0x58: stack.push(utf8(take(u32()))); break; // BINUNICODE
        case 0x8d: stack.push(utf8(take(u64()))); break; // BINUNICODE8
        case 0x56: stack.push(line()); break; // UNICODE (raw-unicode-escape; ASCII names in practice)
        case 0x55: stack.push(latin1(take(u8()))); break; // SHORT_BINSTRING
        case 0x54: { // BINSTRING
          const n = i32();
          if (n < 0) fail('BINSTRING with a negative length');
          stack.push(latin1(take(n)));
          break;
        }
        case 0x53: stack.push(quoted(line())); break; // STRING
        case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
        case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
        case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
        case 0x96: stack.push(take(u64()).slice()); break; // BYTEARRAY8
        case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const d = new Map<unknown, unknown>();
          setItems(d, popMark());
          stack.push(d);
          break;
        }
        case 0x5d: stack.push([]); break; // EMPTY_LIST
        case 0x6c: { // LIST (popMark replaces `stack`, so take the items before pushing)
          const items = popMark();
          stack.push(items);
          break;
        }
        case 0x29: stack.push(Object.freeze([])); break; // EMPTY_TUPLE
        case 0x74: { // TUPLE
          const items = Object.freeze(popMark());
          stack.push(items);
          break;
        }
        case 0x85: stack.push(Object.freeze([pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const b = pop();
          const a = pop();
          stack.push(Object.freeze([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = pop();
          const b = pop();
          const a = pop();
          stack.push(Object.freeze([a, b, c]));
          break;
        }
        case 0x61: { // APPEND
          const v = pop();
          asList(top()).push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = popMark();
          asList(top()).push(...items);
          break;
        }
        case 0x73: { // SETITEM
          const v = pop();
          const k = pop();
          asDict(top()).set(dictKey(k), v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = popMark();
          setItems(asDict(top()), items);
          break;
        }
        case 0x71: memo.set(u8(), top()); break; // BINPUT
        case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
        case 0x70: memo.set(Number(textInt(line())), top()); break; // PUT
        case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
        case 0x68: stack.push(memoGet(u8())); break; // BINGET
        case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
        case 0x67: stack.push(memoGet(Number(textInt(line())))); break; // GET
        case 0x63: { // GLOBAL
          const module = line();
          const name = line();
          stack.push(hooks.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
          stack.push(hooks.global(module as string, name as string));
          break;
        }
        case 0x52: { // REDUCE
          const args = tupleArgs(pop());
          const f = callable(pop());
          stack.push(f.call(args));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = tupleArgs(pop());
          const cls = callable(pop());
          stack.push(cls.call(args));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = pop();
          const args = tupleArgs(pop());
          const cls = callable(pop());
          if (!(kwargs instanceof Map) || kwargs.size > 0) fail(`keyword arguments to ${cls.qualifiedName} are not supported`);
          stack.push(cls.call(args));
          break;
        }
        case 0x62: { // BUILD
          const state = pop();
          const obj = pop();
          stack.push(hooks.build(obj, state));
          break;
        }
        case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID
        case 0x50: stack.push(hooks.persistentLoad(line())); break; // PERSID
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
    throw new PickleError(`${source}: ${(e as Error).message} (pickle opcode at byte ${opAt})`);
  }
}

export { PickleError };
