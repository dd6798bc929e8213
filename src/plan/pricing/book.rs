//! Where one estimate's prices come from: the tenant's price cache, the AWS Price List API, and
//! the bundled table as the offline fallback, in that order, with every fallback said.
//!
//! The cache is one JSON file per region in the tenant's price cache directory
//! (`<region>.json`: each product's price or "no such product", with when it was fetched).
//! A cached answer younger than [`MAX_AGE`] is used without calling the API; an older one is
//! fetched again, and used (with its date) only when the API cannot be reached. Refused answers
//! are never cached.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::key::PriceKey;
use super::price_list::{ApiPrice, select};
use super::table::{PRICES, PriceTable};
use crate::aws::AwsAccess;
use crate::aws::pricing::ProductQuery;

/// How long a fetched price is used before it is fetched again.
pub const MAX_AGE: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// The source name plans show for prices from the API.
pub const API_SOURCE: &str = "AWS Price List API";

/// Answers GetProducts queries: the Price List API through the tenant's AWS access.
pub trait ProductSource {
    /// The PriceList documents matching the query, or why the API could not answer.
    fn products(&self, query: &ProductQuery) -> Result<Vec<String>, String>;
}

impl ProductSource for AwsAccess {
    fn products(&self, query: &ProductQuery) -> Result<Vec<String>, String> {
        self.price_list_blocking(query)
    }
}

/// Where one price came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The Price List API, fetched on this date (`YYYY-MM-DD`), now or from the cache.
    Api {
        fetched: String,
    },
    Bundled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// In the key's unit (per hour, per GB-month, per GB).
    pub usd: f64,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CacheFile {
    region: String,
    entries: BTreeMap<String, CachedPrice>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedPrice {
    /// None: the API has no such product in this region.
    usd: Option<f64>,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    sku: String,
    fetched_at: jiff::Timestamp,
}

#[derive(Default)]
struct State {
    caches: BTreeMap<String, CacheFile>,
    dirty: BTreeSet<String>,
    /// Why the API is not used for the rest of this book's life (unreachable, not configured).
    offline: Option<String>,
    notes: Vec<String>,
    api_dates: BTreeSet<String>,
    bundled_used: bool,
    provenance: BTreeSet<&'static str>,
}

/// One estimate's (or one request's) prices.
pub struct PriceBook<'a> {
    api: Option<&'a dyn ProductSource>,
    cache_dir: Option<PathBuf>,
    now: jiff::Timestamp,
    state: RefCell<State>,
}

impl<'a> PriceBook<'a> {
    /// Prices from the API (cached in `cache_dir`), the bundled table when it cannot answer.
    pub fn new(api: &'a dyn ProductSource, cache_dir: Option<PathBuf>) -> PriceBook<'a> {
        PriceBook {
            api: Some(api),
            cache_dir,
            now: jiff::Timestamp::now(),
            state: RefCell::default(),
        }
    }

    /// Only the bundled table, by design (savings hints computed inside SDK calls).
    pub fn bundled_only() -> PriceBook<'static> {
        PriceBook {
            api: None,
            cache_dir: None,
            now: jiff::Timestamp::now(),
            state: RefCell::default(),
        }
    }

    /// Only the bundled table, for the reason given (shown with the estimate).
    pub fn offline(reason: &str) -> PriceBook<'static> {
        PriceBook {
            api: None,
            cache_dir: None,
            now: jiff::Timestamp::now(),
            state: RefCell::new(State {
                offline: Some(reason.to_string()),
                ..State::default()
            }),
        }
    }

    /// The price of `key` in `region` in the key's unit, or None (noted) when neither the API
    /// nor the bundled table has it.
    pub fn price(&self, region: &str, key: &PriceKey) -> Option<Quote> {
        let cached = self.cached(region, key);
        if let Some(c) = &cached
            && self.now.duration_since(c.fetched_at) < MAX_AGE
        {
            return match c.usd {
                Some(usd) => Some(self.api_quote(usd, c.fetched_at)),
                None => {
                    self.note(format!(
                        "the AWS Price List API has no {} in {region} (asked {}): priced from the bundled table",
                        key.label(),
                        date(c.fetched_at)
                    ));
                    self.bundled(region, key)
                }
            };
        }
        let offline = self.state.borrow().offline.clone();
        let fetched = match (self.api, offline) {
            (Some(api), None) => Some(api.products(&key.query(region))),
            _ => None,
        };
        match fetched {
            Some(Ok(docs)) => match select(key, &docs) {
                Ok(Some(p)) => {
                    self.remember(region, key, Some(&p));
                    Some(self.api_quote(p.usd, self.now))
                }
                Ok(None) => {
                    self.remember(region, key, None);
                    self.note(format!(
                        "the AWS Price List API has no {} in {region}: priced from the bundled table",
                        key.label()
                    ));
                    self.bundled(region, key)
                }
                Err(reason) => {
                    self.note(format!(
                        "refused the AWS Price List API's price for {} in {region}: {reason}; priced from the bundled table",
                        key.label()
                    ));
                    self.bundled(region, key)
                }
            },
            Some(Err(reason)) => {
                self.state.borrow_mut().offline = Some(reason);
                self.stale_or_bundled(region, key, cached)
            }
            None => self.stale_or_bundled(region, key, cached),
        }
    }

    /// An old cached price beats the bundled table while the API is unreachable; either way
    /// the estimate says so.
    fn stale_or_bundled(
        &self,
        region: &str,
        key: &PriceKey,
        cached: Option<CachedPrice>,
    ) -> Option<Quote> {
        if let Some(CachedPrice {
            usd: Some(usd),
            fetched_at,
            ..
        }) = cached
        {
            self.note(format!(
                "{} in {region}: a cached AWS Price List API price of {}, older than {} days, because the API could not be reached to refresh it",
                key.label(),
                date(fetched_at),
                MAX_AGE.as_hours() / 24
            ));
            return Some(self.api_quote(usd, fetched_at));
        }
        self.bundled(region, key)
    }

    fn api_quote(&self, usd: f64, fetched_at: jiff::Timestamp) -> Quote {
        let fetched = date(fetched_at);
        self.state.borrow_mut().api_dates.insert(fetched.clone());
        Quote {
            usd,
            origin: Origin::Api { fetched },
        }
    }

    fn bundled(&self, region: &str, key: &PriceKey) -> Option<Quote> {
        let table = match &*PRICES {
            Ok(t) => t,
            Err(e) => {
                self.note(format!("no price for {}: {e}", key.label()));
                return None;
            }
        };
        let Some(base) = key.bundled(table) else {
            self.note(format!(
                "{} is not in the bundled price table: its cost is not included",
                key.label()
            ));
            return None;
        };
        let factor = if key.regional() {
            match table.region_factor.get(region) {
                Some(f) => *f,
                None => {
                    self.note(format!(
                        "no regional factor for {region} in the bundled price table: priced as us-east-1"
                    ));
                    1.0
                }
            }
        } else {
            1.0
        };
        let mut st = self.state.borrow_mut();
        st.bundled_used = true;
        if let Some(p) = key.provenance() {
            st.provenance.insert(p);
        }
        Some(Quote {
            usd: base * factor,
            origin: Origin::Bundled,
        })
    }

    /// A note for the estimate (each said once).
    pub fn note(&self, n: String) {
        let mut st = self.state.borrow_mut();
        if !st.notes.contains(&n) {
            st.notes.push(n);
        }
    }

    /// The source and date every estimate shows, and the notes that go with them; writes the
    /// cache. Called once, after the last price.
    pub fn finish(&self) -> (String, String, Vec<String>) {
        self.save();
        let st = self.state.borrow();
        let table = PRICES.as_ref().ok();
        let table_date = table.map(|t| t.price_date.clone()).unwrap_or_default();
        let api_dates = match (st.api_dates.first(), st.api_dates.last()) {
            (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
            (Some(a), _) => a.clone(),
            _ => String::new(),
        };
        let mut notes = Vec::new();
        let bundled_source = if st.offline.is_some() {
            "bundled price table, offline"
        } else {
            "bundled price table"
        };
        if st.bundled_used {
            if let Some(reason) = &st.offline {
                notes.push(format!(
                    "the AWS Price List API was not used ({reason}): {}",
                    bundled_basis(table, &table_date)
                ));
            } else {
                notes.push(bundled_basis(table, &table_date));
            }
            for p in &st.provenance {
                if let Some(text) = table.and_then(|t| t.provenance.get(*p)) {
                    notes.push(text.clone());
                }
            }
        }
        notes.extend(st.notes.iter().cloned());
        let (source, date) = match (api_dates.is_empty(), st.bundled_used) {
            (false, false) => (API_SOURCE.to_string(), api_dates),
            (false, true) => (
                format!("{API_SOURCE} and {bundled_source}"),
                format!("{api_dates} (API), {table_date} (bundled table)"),
            ),
            (true, true) => (bundled_source.to_string(), table_date),
            (true, false) => (String::new(), String::new()),
        };
        (source, date, notes)
    }

    fn cached(&self, region: &str, key: &PriceKey) -> Option<CachedPrice> {
        let dir = self.cache_dir.as_ref()?;
        let mut st = self.state.borrow_mut();
        let file = st.caches.entry(region.to_string()).or_insert_with(|| {
            cache_file_name(region)
                .and_then(|name| std::fs::read(dir.join(name)).ok())
                .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
                .filter(|c| c.region == region)
                .unwrap_or_else(|| CacheFile {
                    region: region.to_string(),
                    entries: BTreeMap::new(),
                })
        });
        let entry = file.entries.get(&key.id())?.clone();
        // A cached price is checked like a fresh one: a hand-edited or damaged cache never
        // prices anything it would refuse from the API.
        match entry.usd {
            Some(usd) if !(usd > 0.0 && usd <= key.unit().ceiling()) => None,
            _ => Some(entry),
        }
    }

    fn remember(&self, region: &str, key: &PriceKey, price: Option<&ApiPrice>) {
        if self.cache_dir.is_none() {
            return;
        }
        let mut st = self.state.borrow_mut();
        let file = st
            .caches
            .entry(region.to_string())
            .or_insert_with(|| CacheFile {
                region: region.to_string(),
                entries: BTreeMap::new(),
            });
        file.entries.insert(
            key.id(),
            CachedPrice {
                usd: price.map(|p| p.usd),
                unit: price.map(|p| p.unit.clone()).unwrap_or_default(),
                sku: price.map(|p| p.sku.clone()).unwrap_or_default(),
                fetched_at: self.now,
            },
        );
        st.dirty.insert(region.to_string());
    }

    /// Writes the regions that gained prices. A cache that cannot be written is only a later
    /// cache miss, so it never fails an estimate.
    fn save(&self) {
        let Some(dir) = &self.cache_dir else { return };
        let mut st = self.state.borrow_mut();
        let dirty: Vec<String> = std::mem::take(&mut st.dirty).into_iter().collect();
        for region in dirty {
            if let Some(file) = st.caches.get(&region)
                && let Some(name) = cache_file_name(&region)
                && let Ok(bytes) = serde_json::to_vec_pretty(file)
                && let Err(e) = crate::store::fsutil::ensure_private_dir(dir)
                    .and_then(|()| crate::store::fsutil::write_atomic(&dir.join(name), &bytes))
            {
                tracing::warn!("price cache for {region} not written: {e}");
            }
        }
    }
}

/// Region codes are validated before pricing; anything else never becomes a file name.
fn cache_file_name(region: &str) -> Option<String> {
    (!region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    .then(|| format!("{region}.json"))
}

fn bundled_basis(table: Option<&PriceTable>, table_date: &str) -> String {
    match table {
        Some(t) => format!(
            "prices from the bundled table of {table_date} ({}; other regions scaled by one regional factor)",
            t.source
        ),
        None => format!("prices from the bundled table of {table_date}"),
    }
}

fn date(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}
