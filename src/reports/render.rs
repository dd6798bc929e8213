//! A built report as a file: CSV (one row per cell of its tables and per point of its series,
//! the same four columns for every report) and one self-contained HTML page (inline style, no
//! script, no outside reference; every value escaped).

use std::fmt::Write as _;

use super::doc::ReportDoc;
use crate::events::Output;
use crate::sanitize::csv_cell;

/// The columns of [`to_csv`].
pub const CSV_COLUMNS: [&str; 5] = ["section", "row", "column", "value", "unit"];

/// The report as long-form CSV: a `summary` row, one `note` row per note, then for each table
/// one row per cell (`row` is the first column's value, so a row keeps its name) and for each
/// series one row per point. Cells a spreadsheet would read as a formula are quoted with `'`.
pub fn to_csv(doc: &ReportDoc) -> String {
    let mut out = String::new();
    line(&mut out, &CSV_COLUMNS);
    line(&mut out, &["summary", "", "", &doc.summary, ""]);
    for (i, note) in doc.notes.iter().enumerate() {
        line(&mut out, &["note", &(i + 1).to_string(), "", note, ""]);
    }
    for output in &doc.outputs {
        match output {
            Output::Table {
                title,
                columns,
                rows,
            } => {
                for row in rows {
                    let key = row.first().map(String::as_str).unwrap_or("");
                    for (column, value) in columns.iter().zip(row).skip(1) {
                        line(&mut out, &[title, key, column, value, ""]);
                    }
                }
            }
            Output::Series {
                title,
                unit,
                points,
            } => {
                for (label, value) in points {
                    line(&mut out, &[title, label, "value", &value.to_string(), unit]);
                }
            }
        }
    }
    out
}

fn line(out: &mut String, cells: &[&str]) {
    let cells: Vec<String> = cells.iter().map(|c| quote(&csv_cell(c))).collect();
    out.push_str(&cells.join(","));
    out.push('\n');
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Text made safe for HTML content and attribute values: markup characters as entities,
/// control characters (terminal escapes among them) dropped.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}\
th{background:#f2f2f2}td.n{text-align:right}\
.bar{background:#4a78b5;height:0.8em;display:inline-block}\
.notes li{color:#7a4a00}.meta{color:#666}";

/// The report as one HTML page that needs nothing else: its title, when and for whom it was
/// built, the summary, the notes, every table, and every series as a table with bars.
pub fn to_html(doc: &ReportDoc) -> String {
    let e = escape_html;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n\
         <p class=\"meta\">{} report of tenant {}, built {}</p>\n<p>{}</p>\n",
        e(&doc.title),
        e(&doc.title),
        e(doc.name.as_str()),
        e(&doc.tenant),
        e(&doc.generated_at),
        e(&doc.summary)
    );
    if !doc.notes.is_empty() {
        h.push_str("<h2>Notes</h2>\n<ul class=\"notes\">\n");
        for n in &doc.notes {
            let _ = writeln!(h, "<li>{}</li>", e(n));
        }
        h.push_str("</ul>\n");
    }
    for output in &doc.outputs {
        match output {
            Output::Table {
                title,
                columns,
                rows,
            } => {
                let _ = writeln!(h, "<h2>{}</h2>\n<table>\n<tr>", e(title));
                for c in columns {
                    let _ = write!(h, "<th>{}</th>", e(c));
                }
                h.push_str("</tr>\n");
                for row in rows {
                    h.push_str("<tr>");
                    for cell in row {
                        let _ = write!(h, "<td>{}</td>", e(cell));
                    }
                    h.push_str("</tr>\n");
                }
                h.push_str("</table>\n");
            }
            Output::Series {
                title,
                unit,
                points,
            } => {
                let max = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
                let _ = writeln!(
                    h,
                    "<h2>{}</h2>\n<table>\n<tr><th></th><th>{}</th><th></th></tr>",
                    e(title),
                    e(unit)
                );
                for (label, v) in points {
                    let width = if max > 0.0 && *v > 0.0 {
                        (v / max * 300.0).round()
                    } else {
                        0.0
                    };
                    let _ = writeln!(
                        h,
                        "<tr><td>{}</td><td class=\"n\">{}</td><td><span class=\"bar\" style=\"width:{width}px\"></span></td></tr>",
                        e(label),
                        e(&v.to_string())
                    );
                }
                h.push_str("</table>\n");
            }
        }
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::ReportName;

    fn doc(hostile: &str) -> ReportDoc {
        ReportDoc {
            name: ReportName::Security,
            tenant: "shop".into(),
            title: format!("Security of {hostile}"),
            generated_at: "2026-12-07T00:00:00Z".into(),
            summary: hostile.into(),
            outputs: vec![
                Output::Table {
                    title: "findings".into(),
                    columns: vec!["CHECK".into(), "DETAIL".into()],
                    rows: vec![vec!["s3_public".into(), hostile.into()]],
                },
                Output::Series {
                    title: "open findings".into(),
                    unit: "count".into(),
                    points: vec![("12-01".into(), 3.0), ("12-02".into(), 0.0)],
                },
            ],
            notes: vec![hostile.into()],
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn html_escapes_every_value_and_has_no_script() {
        let hostile = "<script>alert('x')</script>\u{1b}[31m&\"";
        let page = to_html(&doc(hostile));
        assert!(!page.to_lowercase().contains("<script"), "{page}");
        assert!(!page.contains('\u{1b}'));
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;[31m&amp;&quot;"));
        assert!(!page.contains("src=") && !page.contains("href="));
        assert!(page.contains("width:300px") && page.contains("width:0px"));
    }

    #[test]
    fn csv_is_long_form_and_spreadsheet_safe() {
        let csv = to_csv(&doc("=HYPERLINK(\"x\")"));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "section,row,column,value,unit");
        assert_eq!(lines[1], "summary,,,\"'=HYPERLINK(\"\"x\"\")\",");
        assert_eq!(lines[2], "note,1,,\"'=HYPERLINK(\"\"x\"\")\",");
        assert_eq!(
            lines[3],
            "findings,s3_public,DETAIL,\"'=HYPERLINK(\"\"x\"\")\","
        );
        assert_eq!(lines[4], "open findings,12-01,value,3,count");
        assert_eq!(lines.len(), 6);
    }
}
