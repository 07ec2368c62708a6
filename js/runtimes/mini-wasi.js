// A minimal WASI preview 1 for the runtime tests: enough of the API for the
// crash fixtures (arguments, an empty environment, stdout and stderr, exit)
// where no WASI is built in (workerd) or where the test must not use node's
// (plain WebAssembly.instantiate). Every other call answers ENOSYS.

const ESUCCESS = 0;
const EBADF = 8;
const EINVAL = 28;
const ENOSYS = 52;

/** Thrown by proc_exit; `code` is the exit status. */
export class ProcExit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.name = 'ProcExit';
    this.code = code;
  }
}

export class MiniWasi {
  /** @param {{args?: string[]}} options */
  constructor({ args = [] } = {}) {
    this.args = args.map((a) => new TextEncoder().encode(a + '\0'));
    this.output = { 1: [], 2: [] };
    this.memory = null;
  }

  /** The import object to instantiate a command module with. */
  imports() {
    const view = () => new DataView(this.memory.buffer);
    const bytes = () => new Uint8Array(this.memory.buffer);
    const calls = {
      args_sizes_get: (countPtr, sizePtr) => {
        view().setUint32(countPtr, this.args.length, true);
        view().setUint32(sizePtr, this.args.reduce((n, a) => n + a.length, 0), true);
        return ESUCCESS;
      },
      args_get: (argvPtr, bufPtr) => {
        let at = bufPtr;
        this.args.forEach((arg, i) => {
          view().setUint32(argvPtr + 4 * i, at, true);
          bytes().set(arg, at);
          at += arg.length;
        });
        return ESUCCESS;
      },
      environ_sizes_get: (countPtr, sizePtr) => {
        view().setUint32(countPtr, 0, true);
        view().setUint32(sizePtr, 0, true);
        return ESUCCESS;
      },
      environ_get: () => ESUCCESS,
      fd_write: (fd, iovs, iovsLen, writtenPtr) => {
        const sink = this.output[fd];
        if (!sink) return EBADF;
        let written = 0;
        for (let i = 0; i < iovsLen; i++) {
          const ptr = view().getUint32(iovs + 8 * i, true);
          const len = view().getUint32(iovs + 8 * i + 4, true);
          sink.push(bytes().slice(ptr, ptr + len));
          written += len;
        }
        view().setUint32(writtenPtr, written, true);
        return ESUCCESS;
      },
      fd_fdstat_get: (fd, statPtr) => {
        if (fd > 2) return EBADF;
        bytes().fill(0, statPtr, statPtr + 24);
        view().setUint8(statPtr, 2); // character device
        return ESUCCESS;
      },
      fd_seek: () => EINVAL,
      fd_close: (fd) => (fd > 2 ? EBADF : ESUCCESS),
      proc_exit: (code) => {
        throw new ProcExit(code);
      },
    };
    const wasi = new Proxy(calls, {
      get: (target, name) => target[name] ?? (() => ENOSYS),
    });
    return { wasi_snapshot_preview1: wasi };
  }

  /**
   * Runs the command's `_start`. Returns the exit status (0 when `_start`
   * returns); a trap propagates as the engine's error.
   */
  start(instance) {
    this.memory = instance.exports.memory;
    try {
      instance.exports._start();
      return 0;
    } catch (err) {
      if (err instanceof ProcExit) return err.code;
      throw err;
    }
  }

  /** What the program wrote to `fd` (1 or 2), as text. */
  text(fd) {
    const decoder = new TextDecoder();
    return this.output[fd].map((chunk) => decoder.decode(chunk)).join('');
  }
}
