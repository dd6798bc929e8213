//! What changed between two runs of one report: per output (matched by title), the rows added
//! and removed and the numbers that moved. Tables match rows by their first cell (the row's
//! name: a service, a check, a day); series match points by label. Pure: the pipeline reads
//! the two stored runs and hands them here.

use serde::{Deserialize, Serialize};

use crate::events::Output;

/// One number that moved (or one cell whose text changed) in a row both runs have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    /// The row's name (its first cell), or the series point's label.
    pub row: String,
    /// The column's name (a series' unit).
    pub column: String,
    pub before: String,
    pub after: String,
    /// `after - before` when both are numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
}

/// How one output differs between the older and the latest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputChange {
    /// Only the latest run has it.
    Added,
    /// Only the older run had it.
    Removed,
    Changed,
    Same,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDiff {
    pub title: String,
    pub change: OutputChange,
    /// Rows (their first cell) or points only the latest run has.
    pub rows_added: Vec<String>,
    /// Rows or points only the older run had.
    pub rows_removed: Vec<String>,
    pub moved: Vec<Moved>,
}

/// The differences between two runs' outputs, in the latest run's order (removed outputs last).
/// An output pairs with the older run's of the same title, or else with the one in the same
/// place and of the same shape (a table with the same columns, a series in the same unit): a
/// title that names its window still pairs with last week's.
pub fn compare_outputs(older: &[Output], latest: &[Output]) -> Vec<OutputDiff> {
    let mut used = vec![false; older.len()];
    let mut pairs: Vec<Option<usize>> = latest
        .iter()
        .map(|new| {
            let i = older
                .iter()
                .enumerate()
                .position(|(i, o)| !used[i] && title_of(o) == title_of(new))?;
            used[i] = true;
            Some(i)
        })
        .collect();
    for (n, new) in latest.iter().enumerate() {
        if pairs[n].is_none() && n < older.len() && !used[n] && same_shape(&older[n], new) {
            used[n] = true;
            pairs[n] = Some(n);
        }
    }
    let mut out = Vec::new();
    for (new, pair) in latest.iter().zip(&pairs) {
        match pair {
            Some(i) => out.push(compare_one(&older[*i], new)),
            None => out.push(OutputDiff {
                title: title_of(new).to_string(),
                change: OutputChange::Added,
                rows_added: keys(new),
                rows_removed: Vec::new(),
                moved: Vec::new(),
            }),
        }
    }
    for (old, _) in older.iter().zip(&used).filter(|(_, u)| !**u) {
        out.push(OutputDiff {
            title: title_of(old).to_string(),
            change: OutputChange::Removed,
            rows_added: Vec::new(),
            rows_removed: keys(old),
            moved: Vec::new(),
        });
    }
    out
}

fn same_shape(a: &Output, b: &Output) -> bool {
    match (a, b) {
        (Output::Table { columns: x, .. }, Output::Table { columns: y, .. }) => x == y,
        (Output::Series { unit: x, .. }, Output::Series { unit: y, .. }) => x == y,
        _ => false,
    }
}

fn title_of(o: &Output) -> &str {
    match o {
        Output::Table { title, .. } | Output::Series { title, .. } => title,
    }
}

/// Each row's (or point's) key with the cells it is compared by: `(key, [(column, cell)])`.
/// A key seen twice gets `#2`, `#3`… so repeated names still pair up in order.
fn keyed(o: &Output) -> Vec<(String, Vec<(String, String)>)> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut unique = |k: &str| {
        let n = seen.entry(k.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            k.to_string()
        } else {
            format!("{k} #{n}")
        }
    };
    match o {
        Output::Table { columns, rows, .. } => rows
            .iter()
            .map(|r| {
                let key = unique(r.first().map(String::as_str).unwrap_or(""));
                let cells = r
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(|(i, c)| {
                        let col = columns.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
                        (col, c.clone())
                    })
                    .collect();
                (key, cells)
            })
            .collect(),
        Output::Series { unit, points, .. } => points
            .iter()
            .map(|(label, v)| (unique(label), vec![(unit.clone(), number_text(*v))]))
            .collect(),
    }
}

fn keys(o: &Output) -> Vec<String> {
    keyed(o).into_iter().map(|(k, _)| k).collect()
}

fn compare_one(old: &Output, new: &Output) -> OutputDiff {
    let old_rows = keyed(old);
    let new_rows = keyed(new);
    let find = |rows: &[(String, Vec<(String, String)>)], k: &str| {
        rows.iter().position(|(key, _)| key == k)
    };
    let mut diff = OutputDiff {
        title: title_of(new).to_string(),
        change: OutputChange::Same,
        rows_added: Vec::new(),
        rows_removed: Vec::new(),
        moved: Vec::new(),
    };
    for (key, cells) in &new_rows {
        let Some(i) = find(&old_rows, key) else {
            diff.rows_added.push(key.clone());
            continue;
        };
        let before = &old_rows[i].1;
        for (col, after) in cells {
            let prior = before.iter().find(|(c, _)| c == col).map(|(_, v)| v);
            match prior {
                Some(b) if b == after => {}
                Some(b) => diff.moved.push(Moved {
                    row: key.clone(),
                    column: col.clone(),
                    before: b.clone(),
                    after: after.clone(),
                    delta: number(b).zip(number(after)).map(|(x, y)| y - x),
                }),
                // A column the older run did not have: the output's shape changed.
                None => diff.moved.push(Moved {
                    row: key.clone(),
                    column: col.clone(),
                    before: String::new(),
                    after: after.clone(),
                    delta: None,
                }),
            }
        }
    }
    for (key, _) in &old_rows {
        if find(&new_rows, key).is_none() {
            diff.rows_removed.push(key.clone());
        }
    }
    if !(diff.rows_added.is_empty() && diff.rows_removed.is_empty() && diff.moved.is_empty()) {
        diff.change = OutputChange::Changed;
    }
    diff
}

/// A series value as text: whole numbers without decimals.
fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The number a cell shows, if it is one: `1,234`, `$12.50`, `12.5 %`, `340 ms`, `-3`.
pub fn number(cell: &str) -> Option<f64> {
    let mut words = cell.split_whitespace();
    let first = words.next()?;
    // A number may carry one unit word after it, no more.
    if let Some(unit) = words.next()
        && (words.next().is_some() || !unit.chars().all(|c| c.is_alphabetic() || c == '%'))
    {
        return None;
    }
    let t = first
        .trim_start_matches('$')
        .trim_end_matches('%')
        .replace(',', "");
    if t.is_empty() || !t.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(title: &str, rows: &[(&str, &str)]) -> Output {
        Output::Table {
            title: title.into(),
            columns: vec!["SERVICE".into(), "USD".into()],
            rows: rows
                .iter()
                .map(|(a, b)| vec![a.to_string(), b.to_string()])
                .collect(),
        }
    }

    #[test]
    fn rows_added_removed_and_numbers_that_moved() {
        let older = vec![
            table(
                "top services",
                &[("EC2", "120.00"), ("S3", "$4.00"), ("RDS", "50")],
            ),
            table("gone", &[("x", "1")]),
        ];
        let latest = vec![
            table(
                "top services",
                &[("EC2", "150.50"), ("S3", "$4.00"), ("Lambda", "2")],
            ),
            Output::Series {
                title: "daily".into(),
                unit: "USD".into(),
                points: vec![("12-01".into(), 3.0)],
            },
        ];
        let d = compare_outputs(&older, &latest);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].change, OutputChange::Changed);
        assert_eq!(d[0].rows_added, ["Lambda"]);
        assert_eq!(d[0].rows_removed, ["RDS"]);
        assert_eq!(d[0].moved.len(), 1, "S3 did not move: {:?}", d[0].moved);
        assert_eq!(d[0].moved[0].row, "EC2");
        assert_eq!(d[0].moved[0].delta, Some(30.5));
        assert_eq!(d[1].change, OutputChange::Added);
        assert_eq!(d[1].rows_added, ["12-01"]);
        assert_eq!(d[2].change, OutputChange::Removed);
        assert_eq!(d[2].rows_removed, ["x"]);
    }

    #[test]
    fn identical_runs_are_the_same_and_repeated_names_pair_in_order() {
        let t = table("checks", &[("a", "1"), ("a", "2")]);
        let d = compare_outputs(std::slice::from_ref(&t), std::slice::from_ref(&t));
        assert_eq!(d[0].change, OutputChange::Same);
        let later = table("checks", &[("a", "1"), ("a", "5")]);
        let d = compare_outputs(&[t], &[later]);
        assert_eq!(d[0].moved[0].row, "a #2");
        assert_eq!(d[0].moved[0].delta, Some(3.0));
    }

    #[test]
    fn a_title_naming_its_window_still_pairs_by_place_and_shape() {
        let older = vec![table("operations, 11-01 to 12-01", &[("plans made", "0")])];
        let latest = vec![table("operations, 11-08 to 12-08", &[("plans made", "4")])];
        let d = compare_outputs(&older, &latest);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].title, "operations, 11-08 to 12-08");
        assert_eq!(d[0].moved[0].delta, Some(4.0));
    }

    #[test]
    fn numbers_in_cells() {
        assert_eq!(number("1,234"), Some(1234.0));
        assert_eq!(number("$12.50"), Some(12.5));
        assert_eq!(number("12.5 %"), Some(12.5));
        assert_eq!(number("340 ms"), Some(340.0));
        assert_eq!(number("-3"), Some(-3.0));
        assert_eq!(number("running"), None);
        assert_eq!(number("2026-12-01"), None);
        assert_eq!(number("3 of 4 hosts"), None);
        assert_eq!(number("-"), None);
    }
}
