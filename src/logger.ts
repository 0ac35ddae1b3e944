// One structured logger for the host; plugin stderr is forwarded into it.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
}

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
