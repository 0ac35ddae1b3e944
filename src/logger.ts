// One structured logger for the host; plugin stderr is forwarded into it.
import { PlughostUsageError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/** plughost's own logger shape: one method, the level as its first argument. */
export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
}

/** A logger with a method per level, as pino, bunyan, winston and `console` have. */
export interface LevelLogger {
  debug(...args: any[]): unknown;
  info(...args: any[]): unknown;
  warn(...args: any[]): unknown;
  error(...args: any[]): unknown;
}

/** What `createHost({ logger })` accepts. */
export type LoggerLike = Logger | LevelLogger;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** JSON lines on stderr at `level` and above (default: $PLUGHOST_LOG_LEVEL or "info"). */
export function createJsonLogger(
  level: LogLevel = (process.env.PLUGHOST_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  write: (line: string) => void = (line) => void process.stderr.write(line),
): Logger {
  const min = RANK[level] ?? RANK.info;
  return {
    log(l, message, fields) {
      if (RANK[l] < min) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: l, msg: message, ...fields }) + '\n');
    },
  };
}

export const silentLogger: Logger = { log() {} };

/** A logger that adds fixed fields (e.g. the plugin's name) to every line. */
export function childLogger(parent: Logger, fields: LogFields): Logger {
  return { log: (level, message, extra) => parent.log(level, message, { ...fields, ...extra }) };
}

const HCLOG_LEVELS: Record<string, LogLevel> = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
};

/**
 * One line of a plugin's stderr as a log entry: hclog JSON (`@level`,
 * `@message`, `@timestamp`, other keys as fields) is parsed; anything else is
 * the message itself at `info`.
 */
export function parsePluginLogLine(line: string): { level: LogLevel; message: string; fields: LogFields } {
  if (line.startsWith('{') && line.includes('"@message"')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const { '@level': level, '@message': message, '@timestamp': timestamp, ...rest } = entry;
      const fields: LogFields = { ...rest };
      if (timestamp !== undefined) fields.pluginTime = timestamp;
      return {
        level: HCLOG_LEVELS[String(level).toLowerCase()] ?? 'info',
        message: String(message),
        fields,
      };
    } catch {
      // Not JSON after all: log the line as it is.
    }
  }
  return { level: 'info', message: line, fields: {} };
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Any accepted logger as a Logger that never throws: a logger that fails
 * must not take the host (or a plugin's log line) down with it. pino and
 * bunyan take (fields, message); console, winston and the rest (message, fields).
 */
export function toLogger(like: LoggerLike | undefined, fallback: () => Logger = () => createJsonLogger()): Logger {
  if (like === undefined) like = fallback();
  const candidate = like as unknown as Record<string, unknown>;
  if (candidate === null || (typeof candidate !== 'object' && typeof candidate !== 'function')) throw badLogger(like);
  let write: (level: LogLevel, message: string, fields: LogFields | undefined) => void;
  if (LEVELS.every((l) => typeof candidate[l] === 'function')) {
    const levels = like as LevelLogger;
    const fieldsFirst = typeof candidate.bindings === 'function' || (typeof candidate.fields === 'object' && Array.isArray(candidate.streams));
    write = (level, message, fields) => {
      const hasFields = fields !== undefined && Object.keys(fields).length > 0;
      if (!hasFields) levels[level](message);
      else if (fieldsFirst) levels[level](fields, message);
      else levels[level](message, fields);
    };
  } else if (typeof candidate.log === 'function') {
    const own = like as Logger;
    write = (level, message, fields) => own.log(level, message, fields);
  } else {
    throw badLogger(like);
  }
  let reported = false;
  return {
    log(level, message, fields) {
      try {
        write(level, message, fields);
      } catch (err) {
        if (reported) return;
        reported = true;
        try {
          process.stderr.write(`plughost: the logger threw (further failures are not reported): ${(err as Error)?.message ?? String(err)}\n`);
        } catch {
          // stderr is gone too: nothing left to tell.
        }
      }
    },
  };
}

function badLogger(like: unknown): PlughostUsageError {
  return new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', 'logger has neither log(level, message, fields) nor debug/info/warn/error methods', {
    expected: 'a plughost Logger, a pino/bunyan/winston logger, or console',
    found: like === null ? 'null' : typeof like === 'object' ? `an object with ${Object.keys(like as object).join(', ') || 'no keys'}` : typeof like,
  });
}
