//! Results on stdout: a human form, or JSON with `--json`.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;

/// Where and how results are printed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    /// `--json`: machine output.
    pub json: bool,
}

impl Out {
    /// Prints `human` (if not empty), or `json` with `--json`.
    pub fn print(&self, human: &str, json: &Value) -> anyhow::Result<()> {
        if self.json {
            return write_stdout(&format!("{json}\n"));
        }
        if human.is_empty() {
            return Ok(());
        }
        let newline = if human.ends_with('\n') { "" } else { "\n" };
        write_stdout(&format!("{human}{newline}"))
    }
}

/// Writes `text` to stdout and flushes it.
pub(crate) fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("could not write to stdout")
}

/// `yes` or `no`, for a table cell.
pub(crate) fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_owned()
}

/// Rows as aligned columns (two spaces apart; the last column is not padded).
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| match c + 1 == row.len() {
                true => cell.clone(),
                false => format!("{cell:<width$}", width = widths[c]),
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_every_column_but_the_last() {
        let rows = vec![
            vec!["ID".into(), "STATE".into(), "LABELS".into()],
            vec!["a-long-id".into(), "running".into(), "k=v".into()],
            vec!["b".into(), "paused".into(), String::new()],
        ];
        assert_eq!(
            table(&rows),
            "ID         STATE    LABELS\na-long-id  running  k=v\nb          paused\n"
        );
    }
}
