//! A low-confidence change's readings to pick from ([`crate::intent::Confirmation`]), as every
//! front end lists them: numbered from 1 as `ask --confirm-reading N` and MCP's
//! `confirm_reading` count them, best first, each with its share of the evidence.

use crate::intent::Confirmation;

/// One reading on the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingRow {
    /// 1-based: what `--confirm-reading` takes.
    pub number: usize,
    /// `infra/create`.
    pub reading: String,
    /// The share of the evidence, in whole percent.
    pub percent: u32,
}

/// The question and its choices.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingChoiceView {
    pub question: String,
    pub rows: Vec<ReadingRow>,
}

impl ReadingChoiceView {
    pub fn of(c: &Confirmation) -> ReadingChoiceView {
        ReadingChoiceView {
            question: format!(
                "This request would change something, but it was understood with low confidence ({:.2}): nothing is planned until you pick the reading you mean.",
                c.confidence
            ),
            rows: c
                .readings
                .iter()
                .enumerate()
                .map(|(i, r)| ReadingRow {
                    number: i + 1,
                    reading: format!("{}/{}", r.agent, r.action),
                    percent: (r.weight * 100.0).round() as u32,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{AgentKind, Reading};

    #[test]
    fn readings_are_numbered_from_one_as_confirm_reading_counts_them() {
        let v = ReadingChoiceView::of(&Confirmation {
            confidence: 0.56,
            readings: vec![
                Reading {
                    agent: AgentKind::Infra,
                    action: "create".into(),
                    weight: 0.6,
                },
                Reading {
                    agent: AgentKind::Ops,
                    action: "list".into(),
                    weight: 0.4,
                },
            ],
        });
        assert!(v.question.contains("(0.56)"), "{}", v.question);
        assert_eq!(
            v.rows,
            vec![
                ReadingRow {
                    number: 1,
                    reading: "infra/create".into(),
                    percent: 60
                },
                ReadingRow {
                    number: 2,
                    reading: "ops/list".into(),
                    percent: 40
                },
            ]
        );
    }
}
