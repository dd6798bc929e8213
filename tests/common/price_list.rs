//! A local AWS Price List API (`pricing`) on 127.0.0.1, which moto does not serve. It speaks the
//! real wire protocol: awsJson1_1 `POST /` with `X-Amz-Target: AWSPriceListService.GetProducts`,
//! SigV4 for the `pricing` service, TERM_MATCH filters on the product's attributes
//! (`productFamily` included), MaxResults/NextToken paging, and PriceList entries that are JSON
//! documents in strings, shaped like AWS's (`product`, `serviceCode`, `terms.OnDemand`, ...).
//! Products are what the test adds; every request is counted and kept.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Default)]
struct State {
    products: Vec<Value>,
    /// GetProducts bodies, in order.
    requests: Vec<Value>,
    /// Products per page at most (AWS: MaxResults, 1 to 100).
    page_size: Option<usize>,
}

pub struct PriceListStub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl PriceListStub {
    pub fn start() -> PriceListStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind price list stub");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &st);
                });
            }
        });
        PriceListStub { url, state }
    }

    /// Adds a product (a document from [`product`]).
    pub fn add(&self, doc: Value) {
        self.state.lock().unwrap().products.push(doc);
    }

    /// Answers with at most `n` products per page, so clients must follow NextToken.
    pub fn page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = Some(n);
    }

    /// The GetProducts requests so far (their JSON bodies).
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Environment for the real binary: this stub for `pricing` only.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("AWS_ENDPOINT_URL_PRICING", self.url.clone())]
    }
}

/// A product in the Price List API's document shape with one on-demand price.
pub fn product(
    service_code: &str,
    sku: &str,
    family: &str,
    attributes: Value,
    unit: &str,
    usd: &str,
) -> Value {
    let term = format!("{sku}.JRTCKXETXF");
    let rate = format!("{term}.6YS6EN2CT7");
    let mut attrs = attributes;
    attrs["servicecode"] = json!(service_code);
    json!({
        "product": {"productFamily": family, "attributes": attrs, "sku": sku},
        "serviceCode": service_code,
        "terms": {
            "OnDemand": {term.clone(): {
                "priceDimensions": {rate.clone(): {
                    "unit": unit, "endRange": "Inf", "description": format!("{usd} USD per {unit}"),
                    "appliesTo": [], "rateCode": rate, "beginRange": "0",
                    "pricePerUnit": {"USD": usd}}},
                "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                "offerTermCode": "JRTCKXETXF", "termAttributes": {}}},
            "Reserved": {}
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z"
    })
}

/// An on-demand Linux EC2 instance type in a region.
pub fn ec2_instance(region: &str, instance_type: &str, usd: &str) -> Value {
    product(
        "AmazonEC2",
        &format!("EC2-{region}-{instance_type}"),
        "Compute Instance",
        json!({"regionCode": region, "instanceType": instance_type, "operatingSystem": "Linux",
               "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
               "licenseModel": "No License required", "operation": "RunInstances",
               "usagetype": format!("EUC1-BoxUsage:{instance_type}")}),
        "Hrs",
        usd,
    )
}

/// EBS volume storage of a type in a region.
pub fn ebs_volume(region: &str, volume_type: &str, usd: &str) -> Value {
    product(
        "AmazonEC2",
        &format!("EBS-{region}-{volume_type}"),
        "Storage",
        json!({"regionCode": region, "volumeApiName": volume_type,
               "usagetype": format!("EUC1-EBS:VolumeUsage.{volume_type}")}),
        "GB-Mo",
        usd,
    )
}

/// The hourly and capacity-unit products of an Application Load Balancer in a region.
pub fn alb(region: &str, hourly: &str, lcu: &str) -> Vec<Value> {
    let family = "Load Balancer-Application";
    vec![
        product(
            "AWSELB",
            &format!("ALB-{region}-hours"),
            family,
            json!({"regionCode": region, "usagetype": "EUC1-LoadBalancerUsage",
                   "operation": "LoadBalancing:Application"}),
            "Hrs",
            hourly,
        ),
        product(
            "AWSELB",
            &format!("ALB-{region}-lcu"),
            family,
            json!({"regionCode": region, "usagetype": "EUC1-LCUUsage",
                   "operation": "LoadBalancing:Application"}),
            "LCU-Hrs",
            lcu,
        ),
    ]
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    // Keep-alive: the SDK reuses connections.
    while let Some(req) = read_request(&mut reader)? {
        let (status, body) = answer(&req, state);
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: price-list-stub\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        out.write_all(body.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

fn error(kind: &str, message: &str) -> (&'static str, String) {
    (
        "400 Bad Request",
        json!({"__type": kind, "Message": message}).to_string(),
    )
}

fn answer(req: &Request, state: &Mutex<State>) -> (&'static str, String) {
    let signed_for_pricing = req
        .header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(3))
        == Some("pricing");
    if !signed_for_pricing {
        return error(
            "UnrecognizedClientException",
            "not signed for the pricing service",
        );
    }
    if req.method != "POST" || req.path != "/" {
        return error("UnknownOperationException", "POST / only");
    }
    if req.header("content-type") != "application/x-amz-json-1.1" {
        return error(
            "SerializationException",
            "expected application/x-amz-json-1.1",
        );
    }
    if req.header("x-amz-target") != "AWSPriceListService.GetProducts" {
        return error("UnknownOperationException", "only GetProducts is served");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error("SerializationException", "body is not JSON");
    };
    let mut st = state.lock().unwrap();
    st.requests.push(body.clone());
    let Some(service) = body["ServiceCode"].as_str() else {
        return error("ValidationException", "ServiceCode is required");
    };
    let max = body["MaxResults"].as_u64().unwrap_or(100) as usize;
    if !(1..=100).contains(&max) {
        return error("InvalidParameterException", "MaxResults must be 1 to 100");
    }
    let mut filters = Vec::new();
    for f in body["Filters"].as_array().into_iter().flatten() {
        if f["Type"] != "TERM_MATCH" {
            return error(
                "InvalidParameterException",
                "the stub serves TERM_MATCH only",
            );
        }
        match (f["Field"].as_str(), f["Value"].as_str()) {
            (Some(field), Some(value)) => filters.push((field.to_string(), value.to_string())),
            _ => return error("ValidationException", "a filter needs Field and Value"),
        }
    }
    let matching: Vec<&Value> = st
        .products
        .iter()
        .filter(|p| p["serviceCode"] == service)
        .filter(|p| {
            filters.iter().all(|(field, value)| {
                let v = if field == "productFamily" {
                    &p["product"]["productFamily"]
                } else {
                    &p["product"]["attributes"][field]
                };
                v.as_str() == Some(value)
            })
        })
        .collect();
    let start: usize = match body["NextToken"].as_str() {
        None => 0,
        Some(t) => match t.parse() {
            Ok(n) if n <= matching.len() => n,
            _ => return error("InvalidNextTokenException", "unknown NextToken"),
        },
    };
    let size = st.page_size.unwrap_or(max).min(max);
    let end = (start + size).min(matching.len());
    let page: Vec<String> = matching[start..end].iter().map(|p| p.to_string()).collect();
    let mut out = json!({"FormatVersion": "aws_v1", "PriceList": page});
    if end < matching.len() {
        out["NextToken"] = json!(end.to_string());
    }
    ("200 OK", out.to_string())
}

/// One CloudWatch metric for a month in a region (detailed monitoring's metrics).
pub fn cloudwatch_metric(region: &str, usd: &str) -> Value {
    product(
        "AmazonCloudWatch",
        &format!("CW-{region}-metric"),
        "Metric",
        json!({"regionCode": region, "usagetype": "EUC1-CW:MetricMonitorUsage",
               "operation": "MetricStorage"}),
        "Metrics",
        usd,
    )
}

/// S3 Standard storage per GB-month in a region.
pub fn s3_standard(region: &str, usd: &str) -> Value {
    product(
        "AmazonS3",
        &format!("S3-{region}-standard"),
        "Storage",
        json!({"regionCode": region, "volumeType": "Standard",
               "usagetype": "EUC1-TimedStorage-ByteHrs"}),
        "GB-Mo",
        usd,
    )
}
