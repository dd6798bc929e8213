//! The AWS Price List API (`pricing`): GetProducts with exact-match filters, all pages.
//!
//! The API is served only from us-east-1, ap-south-1 and eu-central-1, and prices every region
//! from there, so the client is always built for [`PRICING_REGION`] whatever region a plan is
//! for. Endpoints follow the other clients: `--endpoint-url` (the access's endpoint), else
//! `AWS_ENDPOINT_URL_PRICING` or `AWS_ENDPOINT_URL` (read by aws-config).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_pricing::types::{Filter, FilterType};

use super::{AwsAccess, describe_error};

/// Where the Price List API is served from (it answers for every region).
pub const PRICING_REGION: &str = "us-east-1";

/// A plan waits at most this long for one GetProducts page before using the bundled table.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// More pages than this for one product means the filters are too loose to price anything.
const MAX_PAGES: usize = 5;

/// One product lookup: a service code (`AmazonEC2`, `AmazonRDS`, ...) and attribute values that
/// must match exactly (TERM_MATCH), e.g. `("instanceType", "t3.medium")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductQuery {
    pub service_code: String,
    pub filters: Vec<(String, String)>,
}

impl AwsAccess {
    /// Every PriceList document (a JSON string each) that matches the query, for synchronous
    /// callers (agents planning). The error is a sentence a person reads.
    pub fn price_list_blocking(&self, query: &ProductQuery) -> Result<Vec<String>, String> {
        let conf = self
            .config_blocking(PRICING_REGION)
            .map_err(|e| e.to_string())?;
        self.block_on(get_products(pricing_client(&conf), query.clone()))
            .map_err(|e| e.to_string())?
    }
}

/// One attempt per call and a short timeout: a plan that cannot reach the API falls back to the
/// bundled table instead of waiting.
pub fn pricing_client(conf: &aws_config::SdkConfig) -> aws_sdk_pricing::Client {
    let pricing = aws_sdk_pricing::config::Builder::from(conf)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(CALL_TIMEOUT)
                .connect_timeout(Duration::from_secs(3))
                .build(),
        )
        .build();
    aws_sdk_pricing::Client::from_conf(pricing)
}

/// GetProducts over every page (at most [`MAX_PAGES`]).
pub async fn get_products(
    client: aws_sdk_pricing::Client,
    query: ProductQuery,
) -> Result<Vec<String>, String> {
    let mut filters = Vec::new();
    for (field, value) in &query.filters {
        filters.push(
            Filter::builder()
                .r#type(FilterType::TermMatch)
                .field(field)
                .value(value)
                .build()
                .map_err(|e| format!("pricing GetProducts filter {field}: {e}"))?,
        );
    }
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .get_products()
            .service_code(&query.service_code)
            .format_version("aws_v1")
            .set_filters(Some(filters.clone()))
            .max_results(100)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| describe_error("pricing", "GetProducts", &e))?;
        out.extend(page.price_list().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
    Err(format!(
        "pricing GetProducts for {} matched more than {MAX_PAGES} pages of products: the filters do not name one product",
        query.service_code
    ))
}
