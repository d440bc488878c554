//! The API contract, as a client generated from the OpenAPI document would meet it: the test
//! walks the served document and, for every query parameter and body field, sends the values at
//! and beyond its bounds, wrong types, `null`, empty and unknown names; every answer must have a
//! status the document lists for that case and a body that fits the document's schema for it.
//! Then the framework's own answers: 404, 405 (with `Allow`), 413 and 415 in the JSON envelope.

use axum::http::StatusCode;
use chrono::Utc;
use paperboy_core::EmailAddress;
use paperboy_engine::readers::SignInRequest;
use serde_json::{json, Value};

use crate::common::*;

/// A paper of the demo corpus.
const PAPER: &str = "2601.05242";

/// The served document, with `$ref`s followed on demand.
struct Doc(Value);

impl Doc {
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.0.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling $ref {r}")),
            None => schema,
        }
    }

    /// Checks `value` against `schema` (the keywords the document uses); the error says where.
    fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let fits = |t: &&str| match *t {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                other => panic!("type {other} in the document"),
            };
            if !types.iter().any(fits) {
                return Err(format!("{at}: {value} is not {types:?}"));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                return Err(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(s) = value.as_str() {
            let chars = s.chars().count() as u64;
            if schema.get("minLength").and_then(Value::as_u64).is_some_and(|m| chars < m) || schema.get("maxLength").and_then(Value::as_u64).is_some_and(|m| chars > m) {
                return Err(format!("{at}: {chars} characters is out of bounds"));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                if !regex::Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern}: {e}")).is_match(s) {
                    return Err(format!("{at}: {s:?} does not match {pattern}"));
                }
            }
            match schema.get("format").and_then(Value::as_str) {
                Some("date") if s.parse::<chrono::NaiveDate>().is_err() => return Err(format!("{at}: {s:?} is not a date")),
                Some("email") if s.split_once('@').is_none_or(|(a, d)| a.is_empty() || !d.contains('.') || s.contains(char::is_whitespace)) => {
                    return Err(format!("{at}: {s:?} is not an address"))
                }
                _ => {}
            }
        }
        if let Some(n) = value.as_f64() {
            if schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m) || schema.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m) {
                return Err(format!("{at}: {n} is out of bounds"));
            }
        }
        if let Some(obj) = value.as_object() {
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    return Err(format!("{at}: no {name:?} in {value}"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.validate(s, v, &format!("{at}.{k}"))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => return Err(format!("{at}: {k:?} is not in the schema")),
                    None => {}
                }
            }
        }
        if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
            for (i, v) in list.iter().enumerate() {
                self.validate(items, v, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }
}

/// One request of the walk and the statuses the document allows for it.
struct Case {
    what: String,
    method: &'static str,
    uri: String,
    body: Option<String>,
    valid: bool,
}

/// A value that fits `schema` (for the parts of a request the walk does not vary).
fn sample(doc: &Doc, schema: &Value) -> Value {
    let schema = doc.resolve(schema);
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("string") if schema["format"] == "email" => json!("contract@example.org"),
        Some("string") => json!("contract"),
        Some("integer") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        _ => {
            let props = schema["properties"].as_object();
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            let fields = required.iter().filter_map(Value::as_str).map(|k| (k.to_owned(), sample(doc, &props.unwrap()[k])));
            Value::Object(fields.collect())
        }
    }
}

/// Values for one schema, named: at and beyond each bound, wrong types, null and empty. Whether
/// each fits is for the schema to say ([`Doc::validate`]).
fn variants(schema: &Value) -> Vec<(String, Value)> {
    let mut out = vec![("null".to_owned(), Value::Null), ("a number".into(), json!(7)), ("a fraction".into(), json!(1.5)), ("text".into(), json!("ten")), ("empty".into(), json!(""))];
    out.extend([("blanks".to_owned(), json!("   ")), ("true".into(), json!(true)), ("a list".into(), json!([])), ("a list of numbers".into(), json!([1])), ("an object".into(), json!({}))]);
    if let Some(allowed) = schema["enum"].as_array() {
        out.extend(allowed.iter().map(|v| (format!("enum {v}"), v.clone())));
    }
    for (label, bound, step) in [("minimum", schema["minimum"].as_i64(), -1), ("maximum", schema["maximum"].as_i64(), 1)] {
        if let Some(b) = bound {
            out.extend([(format!("{label} {b}"), json!(b)), (format!("{label} {b} {step:+}"), json!(b + step))]);
        }
    }
    for (label, bound, step) in [("minLength", schema["minLength"].as_u64(), -1), ("maxLength", schema["maxLength"].as_u64(), 1)] {
        if let Some(b) = bound.filter(|b| *b > 0) {
            // Characters, not bytes: "é" is two bytes.
            out.extend([(format!("{label} {b}"), json!("é".repeat(b as usize))), (format!("{label} {b} {step:+}"), json!("é".repeat((b as i64 + step) as usize)))]);
        }
    }
    match schema["format"].as_str() {
        Some("date") => out.extend([("a real day".to_owned(), json!("2026-02-28")), ("30 February".into(), json!("2026-02-30")), ("month 13".into(), json!("2026-13-01"))]),
        Some("email") => out.extend([("an address".to_owned(), json!("someone@example.org")), ("no address".into(), json!("not an address"))]),
        _ => {}
    }
    if let Some(e) = schema.get("example") {
        out.push(("the example".into(), e.clone()));
    }
    out
}

/// A query value as sent: strings as they are, anything else as JSON text.
fn query_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Every case of one operation.
fn cases(doc: &Doc, path: &str, method: &'static str, op: &Value, ids: &[(&str, String)]) -> Vec<Case> {
    let mut uri_path = path.to_owned();
    for (name, value) in ids {
        uri_path = uri_path.replace(&format!("{{{name}}}"), value);
    }
    let params: Vec<&Value> = op["parameters"].as_array().map(|a| a.iter().filter(|p| p["in"] == "query").collect()).unwrap_or_default();
    let base: Vec<(String, String)> =
        params.iter().filter(|p| p["required"] == true).map(|p| (p["name"].as_str().unwrap().to_owned(), query_text(&sample(doc, &p["schema"])).unwrap())).collect();
    let body_schema = op.pointer("/requestBody/content/application~1json/schema").map(|s| doc.resolve(s));
    let base_body = body_schema.map(|s| sample(doc, s));
    let uri = |pairs: &[(String, String)]| {
        let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        if q.is_empty() { uri_path.clone() } else { format!("{uri_path}?{}", q.join("&")) }
    };
    let case = |what: String, pairs: &[(String, String)], body: Option<&Value>, valid: bool| Case { what, method, uri: uri(pairs), body: body.map(Value::to_string), valid };
    let mut out = vec![case("as documented".into(), &base, base_body.as_ref(), true)];
    for p in &params {
        let name = p["name"].as_str().unwrap();
        for (label, value) in variants(doc.resolve(&p["schema"])) {
            let Some(text) = query_text(&value) else { continue };
            if value.is_array() || value.is_object() {
                continue;
            }
            // A query string has no types: the text of a number is that number, or text.
            let as_sent = match p["schema"]["type"].as_str() {
                Some("integer") => text.parse::<i64>().map(Value::from).unwrap_or(Value::String(text.clone())),
                _ => Value::String(text.clone()),
            };
            let fits = doc.validate(&p["schema"], &as_sent, name).is_ok();
            let mut pairs: Vec<(String, String)> = base.iter().filter(|(k, _)| k != name).cloned().collect();
            pairs.push((name.to_owned(), text));
            out.push(case(format!("{name}: {label}"), &pairs, base_body.as_ref(), fits));
        }
        if p["required"] == true {
            let pairs: Vec<(String, String)> = base.iter().filter(|(k, _)| k != name).cloned().collect();
            out.push(case(format!("{name} left out"), &pairs, base_body.as_ref(), false));
        }
    }
    if !params.is_empty() {
        let mut pairs = base.clone();
        pairs.push(("date_from".into(), "2026-02-30".into()));
        out.push(case("an unknown parameter".into(), &pairs, base_body.as_ref(), false));
    }
    if let (Some(schema), Some(body)) = (body_schema, &base_body) {
        for (what, b) in body_cases(doc, schema, body, "") {
            let fits = doc.validate(schema, &b, "body").is_ok();
            out.push(case(what, &base, Some(&b), fits));
        }
        out.push(Case { what: "a body that is not JSON".into(), method, uri: uri(&base), body: Some("{\"oops".into()), valid: false });
        out.push(Case { what: "a JSON array for a body".into(), method, uri: uri(&base), body: Some("[]".into()), valid: false });
    }
    out
}

/// Bodies that vary one field of `body` (an object fitting `schema`), nested objects included.
fn body_cases(doc: &Doc, schema: &Value, body: &Value, at: &str) -> Vec<(String, Value)> {
    let mut out = vec![];
    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
        let field = doc.resolve(field);
        let with = |v: Value| {
            let mut b = body.clone();
            b[name] = v;
            b
        };
        out.extend(variants(field).into_iter().map(|(label, value)| (format!("{at}{name}: {label}"), with(value))));
        if field["type"] == "object" {
            out.extend(body_cases(doc, field, &sample(doc, field), &format!("{at}{name}.")).into_iter().map(|(what, v)| (what, with(v))));
        }
        let mut without = body.clone();
        without.as_object_mut().unwrap().remove(name);
        out.push((format!("{at}{name} left out"), without));
    }
    let mut extra = body.clone();
    extra["date_from"] = json!("2026-02-30");
    out.push((format!("{at}an unknown field"), extra));
    out
}

/// A reader with an API token, a collection and an alert: the bearer header value, the
/// collection id and the alert id.
fn reader(app: &TestApp) -> (String, i64, i64) {
    let email = EmailAddress::parse("contract@example.org").unwrap();
    let mut store = app.state.store();
    let SignInRequest::Send { token, .. } = store.request_sign_in(&email, Utc::now()).unwrap() else { panic!("no sign-in link") };
    let reader = store.redeem_sign_in(&token, Utc::now()).unwrap().expect("reader");
    let (_, secret) = store.create_api_token(reader.id, "contract", Utc::now()).unwrap();
    let collection = store.create_collection(reader.id, "Contract", Utc::now()).unwrap();
    let alert = store.create_alert(reader.id, "Contract, to delete", &paperboy_engine::alerts::AlertSpec::new("contract"), Utc::now()).unwrap().unwrap();
    (format!("Bearer {secret}"), collection.id, alert.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_parameter_and_field_answers_as_the_document_says() {
    let app = contract_app();
    let (status, doc) = get_json(app, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc = Doc(doc);
    let (bearer, collection, alert) = reader(app);
    let mut failures = vec![];
    let mut sent = 0;
    for (path, item) in doc.0["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method: &'static str = match method.as_str() {
                "get" => "GET",
                "post" => "POST",
                "delete" => "DELETE",
                other => panic!("{other} in the document"),
            };
            let id = match path {
                p if p.starts_with("/api/v1/collections") => collection.to_string(),
                p if p.starts_with("/api/v1/alerts") => alert.to_string(),
                _ => PAPER.to_owned(),
            };
            for case in cases(&doc, path, method, op, &[("id", id), ("paper", PAPER.to_owned())]) {
                let mut headers = vec![("authorization", bearer.as_str())];
                if case.body.is_some() {
                    headers.push(("content-type", "application/json"));
                }
                let (status, answer_headers, body) = request(app, case.method, &case.uri, &headers, case.body.clone().unwrap_or_default()).await;
                sent += 1;
                let label = format!("{} {} ({}): {status}", case.method, case.uri.chars().take(120).collect::<String>(), case.what);
                let documented = op["responses"].get(status.as_str());
                let expected = if case.valid { status.is_success() } else { status == StatusCode::BAD_REQUEST };
                if !expected {
                    failures.push(format!("{label}: expected {} — {}", if case.valid { "2xx" } else { "400" }, body.chars().take(200).collect::<String>()));
                    continue;
                }
                let Some(documented) = documented else {
                    failures.push(format!("{label}: status not in the document"));
                    continue;
                };
                let Some(schema) = documented.pointer("/content/application~1json/schema") else { continue };
                assert!(answer_headers["content-type"].to_str().unwrap().starts_with("application/json"), "{label}");
                let value: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{label}: {e}: {body}"));
                if let Err(e) = doc.validate(schema, &value, "answer") {
                    failures.push(format!("{label}: {e}"));
                }
            }
        }
    }
    assert!(sent > 300, "only {sent} requests");
    assert!(failures.is_empty(), "{} of {sent} answers break the contract:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn the_frameworks_own_errors_are_the_envelope() {
    let app = contract_app();
    let (_, doc) = get_json(app, "/api/openapi.json").await;
    let doc = Doc(doc);
    let envelope = |status: StatusCode, body: &str| {
        let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{status}: {e}: {body}"));
        doc.validate(&json!({"$ref": "#/components/schemas/Error"}), &value, "error").unwrap_or_else(|e| panic!("{status}: {e}"));
    };
    let (status, _, body) = get(app, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    envelope(status, &body);
    let (status, headers, body) = request(app, "DELETE", "/api/v1/papers", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(headers["allow"].to_str().unwrap().contains("GET"));
    envelope(status, &body);
    let big = format!("{{\"email\": \"{}@example.org\"}}", "a".repeat(20_000));
    let (status, _, body) = request(app, "POST", "/api/v1/subscriptions", &[("content-type", "application/json")], big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    envelope(status, &body);
    let (status, _, body) = request(app, "POST", "/api/v1/subscriptions", &[("content-type", "text/plain")], r#"{"email": "a@example.org"}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    envelope(status, &body);
    let (status, _, body) = get(app, "/api/v1/papers/9999.99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    envelope(status, &body);
    let (status, _, body) = get(app, "/api/v1/collections/not-a-number").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    envelope(status, &body);
}
