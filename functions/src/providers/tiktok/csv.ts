/**
 * RFC 4180 CSV, as TikTok's asynchronous report output is written (a title row, then one record
 * per line; a field holding a comma, a quote or a line break is quoted and its quotes doubled —
 * campaign names may hold any of them). Pure.
 */

/**
 * The records of `text`: LF or CRLF line ends, a leading byte-order mark and blank lines ignored.
 * `undefined` when a quoted field never closes: the file was cut off.
 */
export function parseCsv(text: string): string[][] | undefined {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  const endRecord = () => {
    record.push(field);
    // A blank line is no record.
    if (record.length > 1 || field !== "") {
      records.push(record);
    }
    record = [];
    field = "";
  };
  for (let i = text.startsWith("\uFEFF") ? 1 : 0; i < text.length; i += 1) {
    const char = text.charAt(i);
    if (quoted) {
      if (char !== '"') {
        field += char;
      } else if (text.charAt(i + 1) === '"') {
        field += '"';
        i += 1;
      } else {
        quoted = false;
      }
    } else if (char === '"' && field === "") {
      quoted = true;
    } else if (char === ",") {
      record.push(field);
      field = "";
    } else if (char === "\n") {
      endRecord();
    } else if (char === "\r" && text.charAt(i + 1) === "\n") {
      endRecord();
      i += 1;
    } else {
      field += char;
    }
  }
  if (quoted) {
    return undefined;
  }
  if (field !== "" || record.length > 0) {
    endRecord();
  }
  return records;
}
