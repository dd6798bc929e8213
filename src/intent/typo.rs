//! Typo tolerance: optimal-string-alignment distance (edits plus adjacent swaps), bounded.

/// OSA distance between `a` and `b`, or `None` when it exceeds `max`.
/// Inputs are short ASCII words, so fixed-size rows on the stack are enough.
pub fn osa_within(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    const N: usize = 32;
    if a.len() >= N || b.len() >= N || a.len().abs_diff(b.len()) > max {
        return None;
    }
    let (mut prev2, mut prev, mut cur) = ([0usize; N], [0usize; N], [0usize; N]);
    for (j, slot) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *slot = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        prev2 = prev;
        prev = cur;
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// How many edits a word of this length may carry and still be recognised.
/// Short words are left alone: "ssm" must never become "sms".
pub fn allowed_edits(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_count_once() {
        assert_eq!(osa_within(b"instnaces", b"instances", 2), Some(1));
        assert_eq!(osa_within(b"restrat", b"restart", 1), Some(1));
    }

    #[test]
    fn insertions_and_deletions() {
        assert_eq!(osa_within(b"rebot", b"reboot", 1), Some(1));
        assert_eq!(osa_within(b"buckts", b"buckets", 1), Some(1));
        assert_eq!(osa_within(b"bucket", b"budget", 1), None);
    }

    #[test]
    fn bound_is_respected() {
        assert_eq!(osa_within(b"abcdef", b"uvwxyz", 2), None);
        assert_eq!(osa_within(b"same", b"same", 0), Some(0));
    }
}
