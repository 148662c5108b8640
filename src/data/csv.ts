// A streaming CSV reader (RFC 4180: commas, double-quoted fields with "" escapes and line breaks, CRLF or LF), for
// metadata tables too large to hold in memory (OpenStreetView-5M's train.csv is over a gigabyte). Bytes that are not
// UTF-8 become U+FFFD instead of failing the file: one odd city name must not stop an import.
import { createReadStream } from 'node:fs';

export interface CsvRecord {
  /** Line number (1-based) where the record starts. */
  line: number;
  fields: string[];
}

/** A record longer than this is a quote left open, which would swallow the rest of the file. */
const MAX_RECORD_CHARS = 1 << 20;

export async function* readCsv(file: string): AsyncGenerator<CsvRecord> {
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let quoteSeen = false; // a quote inside a quoted field: either the end of the field or the first of ""
  let line = 1;
  let recordLine = 1;
  let recordChars = 0;
  const stream = createReadStream(file);
  const flushRecord = (): CsvRecord => {
    fields.push(field);
    const r = { line: recordLine, fields };
    fields = [];
    field = '';
    recordChars = 0;
    return r;
  };
  const chunks = (async function* () {
    for await (const b of stream) yield decoder.decode(b as Buffer, { stream: true });
    yield decoder.decode();
  })();
  try {
    for await (const text of chunks) {
      let start = 0; // start of the pending plain run of `text` not yet added to `field`
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (inQuotes) {
          if (quoteSeen) {
            quoteSeen = false;
            if (c === 34) {
              start = i; // "" is one quote: keep the second
              continue;
            }
            inQuotes = false; // the quote closed the field; this character is handled as outside quotes
          } else {
            if (c === 34) {
              field += text.slice(start, i);
              quoteSeen = true;
              start = i + 1;
            } else if (c === 10) line++;
            continue;
          }
        }
        if (c === 44) {
          field += text.slice(start, i);
          fields.push(field);
          field = '';
          start = i + 1;
        } else if (c === 10) {
          field += text.slice(start, i);
          if (field.endsWith('\r')) field = field.slice(0, -1);
          start = i + 1;
          const r = flushRecord();
          line++;
          recordLine = line;
          if (!(r.fields.length === 1 && r.fields[0] === '')) yield r;
        } else if (c === 34 && field === '' && i === start) {
          inQuotes = true;
          start = i + 1;
        }
      }
      field += text.slice(start);
      recordChars += text.length;
      if (recordChars > MAX_RECORD_CHARS && (inQuotes || fields.length > 0)) {
        throw new Error(
          `${file}:${recordLine}: a record runs past ${MAX_RECORD_CHARS} characters (a quote left open?); fix that ` +
            `line`,
        );
      }
    }
    if (inQuotes && !quoteSeen) throw new Error(`${file}:${recordLine}: a quoted field is never closed; fix that line`);
    if (field !== '' || fields.length > 0) yield flushRecord();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`table ${file} does not exist`);
    throw err;
  } finally {
    stream.destroy();
  }
}
