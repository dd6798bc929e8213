//! A plan's resource changes as every front end marks them, in Terraform's convention, written
//! once: `+` create, `~` update in place, `-` destroy, `-/+` replace (destroyed, then created
//! again). Terraform marks a data source read `<=`; plans list no data sources
//! (`exec::terraform::changes_in` leaves them out), so no resource change carries it.

use serde::Serialize;

use crate::plan::{ChangeAction, ResourceChange};

/// Terraform's symbol for a change.
pub fn symbol(action: ChangeAction) -> &'static str {
    match action {
        ChangeAction::Create => "+",
        ChangeAction::Update => "~",
        ChangeAction::Delete => "-",
        ChangeAction::Replace => "-/+",
    }
}

/// What a replacement means, said beside it wherever it is listed: it destroys first.
pub const REPLACED: &str = "REPLACED: destroyed, then created again";

/// One resource the plan adds, changes or destroys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceView<'a> {
    pub symbol: &'static str,
    pub action: ChangeAction,
    pub address: &'a str,
    pub count: u32,
    /// [`REPLACED`] for a replacement; nothing for the other changes.
    pub note: Option<&'static str>,
}

impl<'a> ResourceView<'a> {
    pub fn of(r: &'a ResourceChange) -> ResourceView<'a> {
        ResourceView {
            symbol: symbol(r.action),
            action: r.action,
            address: &r.address,
            count: r.count,
            note: (r.action == ChangeAction::Replace).then_some(REPLACED),
        }
    }
}

/// How many resources each kind of change touches (a resource's count included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCounts {
    pub create: u32,
    pub update: u32,
    pub destroy: u32,
    pub replace: u32,
}

impl ChangeCounts {
    pub fn of(resources: &[ResourceChange]) -> ChangeCounts {
        let mut c = ChangeCounts::default();
        for r in resources {
            let n = match r.action {
                ChangeAction::Create => &mut c.create,
                ChangeAction::Update => &mut c.update,
                ChangeAction::Delete => &mut c.destroy,
                ChangeAction::Replace => &mut c.replace,
            };
            *n += r.count;
        }
        c
    }

    /// `+3`, `~0`, `-1` with their change (replacements are counted apart: see
    /// [`ChangeCounts::replaced`]).
    pub fn parts(&self) -> [(ChangeAction, String); 3] {
        [
            (ChangeAction::Create, self.create),
            (ChangeAction::Update, self.update),
            (ChangeAction::Delete, self.destroy),
        ]
        .map(|(a, n)| (a, format!("{}{n}", symbol(a))))
    }

    /// `+3 ~0 -1`.
    pub fn tally(&self) -> String {
        self.parts().map(|(_, p)| p).join(" ")
    }

    /// `2 replaced`, or nothing when none is.
    pub fn replaced(&self) -> Option<String> {
        (self.replace > 0).then(|| format!("{} replaced", self.replace))
    }
}

/// The widest symbol among `resources`, so a column of symbols lines up.
pub fn symbol_width(resources: &[ResourceChange]) -> usize {
    resources
        .iter()
        .map(|r| symbol(r.action).len())
        .max()
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, action: ChangeAction, count: u32) -> ResourceChange {
        ResourceChange {
            address: address.into(),
            action,
            count,
        }
    }

    #[test]
    fn symbols_are_terraforms() {
        let all = [
            (ChangeAction::Create, "+"),
            (ChangeAction::Update, "~"),
            (ChangeAction::Delete, "-"),
            (ChangeAction::Replace, "-/+"),
        ];
        for (action, want) in all {
            assert_eq!(symbol(action), want);
        }
    }

    #[test]
    fn a_replacement_is_noted_and_counted_apart() {
        let resources = [
            change("aws_instance.web", ChangeAction::Replace, 2),
            change("aws_lb.this", ChangeAction::Create, 1),
            change("aws_s3_bucket.old", ChangeAction::Delete, 1),
        ];
        let r = ResourceView::of(&resources[0]);
        assert_eq!((r.symbol, r.note), ("-/+", Some(REPLACED)));
        assert_eq!(ResourceView::of(&resources[1]).note, None);
        let c = ChangeCounts::of(&resources);
        assert_eq!(c.tally(), "+1 ~0 -1");
        assert_eq!(c.replaced().as_deref(), Some("2 replaced"));
        assert_eq!(symbol_width(&resources), 3);
        assert_eq!(symbol_width(&resources[1..]), 1);
        assert_eq!(ChangeCounts::of(&resources[1..]).replaced(), None);
    }
}
