//! From the spec's OpenAPI 3.0 schemas to JSON Schema validators.
//!
//! An OpenAPI 3.0 schema object is almost a JSON Schema (draft 4, extended). What differs,
//! and what [`to_json_schema`] does about it:
//!
//! - `$ref: '#/components/schemas/Name'` points into the OpenAPI document, which a JSON
//!   Schema validator cannot see: the named schema is converted and inlined in its place
//!   (a schema that refers back to itself is refused rather than looped on);
//! - `nullable: true` is OpenAPI's way to allow `null`: it becomes a type union with
//!   `"null"` (and `null` joins an `enum`, if there is one);
//! - `discriminator`, `xml`, `externalDocs`, `example`, `deprecated` and `x-` extensions
//!   are OpenAPI annotations and are dropped.
//!
//! The validators never resolve anything over the network, and every `format` the spec
//! uses must be known: `jwt` and `uuid` are checked by this module, numeric formats
//! (`int32`, `int64`, `float`, `double`) only annotate numbers. A format the validator does
//! not know fails the build, so a new one in the spec is noticed here.

use serde_json::{Map, Value};
use signalwire_codegen::Spec;

/// OpenAPI keywords with no JSON Schema meaning.
const OPENAPI_ONLY: &[&str] = &[
    "nullable",
    "discriminator",
    "xml",
    "externalDocs",
    "example",
    "deprecated",
];

const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// The spec's `components/schemas`, as JSON.
pub fn components(spec: &Spec) -> Map<String, Value> {
    let schemas = spec
        .document()
        .components
        .as_ref()
        .map(|components| components.schemas.clone())
        .unwrap_or_default();
    match serde_json::to_value(schemas) {
        Ok(Value::Object(schemas)) => schemas,
        other => panic!("components/schemas did not serialize to an object: {other:?}"),
    }
}

/// The JSON Schema of `operation_id`'s request body.
pub fn request_schema(spec: &Spec, operation_id: &str) -> Value {
    let media = crate::request_media(spec, operation_id);
    let schema = media
        .schema
        .as_ref()
        .unwrap_or_else(|| panic!("{operation_id}: the request body has no schema"));
    convert(spec, schema, &format!("{operation_id} request"))
}

/// The JSON Schema of `operation_id`'s response body with `status`, if it has one.
pub fn response_schema(spec: &Spec, operation_id: &str, status: u16) -> Option<Value> {
    let schema = crate::response_media(spec, operation_id, status)?
        .schema
        .as_ref()?;
    Some(convert(spec, schema, &format!("{operation_id} {status}")))
}

fn convert(spec: &Spec, schema: &openapiv3::ReferenceOr<openapiv3::Schema>, what: &str) -> Value {
    let schema = serde_json::to_value(schema)
        .unwrap_or_else(|error| panic!("{what}: the schema does not serialize: {error}"));
    to_json_schema(&schema, &components(spec)).unwrap_or_else(|error| panic!("{what}: {error}"))
}

/// Turns one OpenAPI 3.0 schema (as JSON) into a self-contained JSON Schema, resolving
/// `#/components/schemas/...` references against `components`.
pub fn to_json_schema(schema: &Value, components: &Map<String, Value>) -> Result<Value, String> {
    convert_value(schema, components, &mut Vec::new())
}

fn convert_value(
    schema: &Value,
    components: &Map<String, Value>,
    resolving: &mut Vec<String>,
) -> Result<Value, String> {
    let Value::Object(object) = schema else {
        // `true`/`false` schemas and anything else are passed through unchanged.
        return Ok(schema.clone());
    };
    if let Some(reference) = object.get("$ref") {
        let reference = reference
            .as_str()
            .ok_or_else(|| format!("$ref {reference} is not a string"))?;
        let name = reference
            .strip_prefix(SCHEMA_REF_PREFIX)
            .ok_or_else(|| format!("$ref {reference} does not point into {SCHEMA_REF_PREFIX}"))?;
        if resolving.iter().any(|outer| outer == name) {
            return Err(format!(
                "schema {name} refers to itself ({} -> {name}); inlining it would never end",
                resolving.join(" -> ")
            ));
        }
        let target = components
            .get(name)
            .ok_or_else(|| format!("$ref {reference} names no schema"))?;
        resolving.push(name.to_owned());
        let converted = convert_value(target, components, resolving);
        resolving.pop();
        return converted;
    }

    let mut out = Map::new();
    for (key, value) in object {
        if OPENAPI_ONLY.contains(&key.as_str()) || key.starts_with("x-") {
            continue;
        }
        let converted = match key.as_str() {
            "properties" => {
                let Value::Object(properties) = value else {
                    return Err(format!("properties is not an object: {value}"));
                };
                let mut converted = Map::new();
                for (name, property) in properties {
                    converted.insert(
                        name.clone(),
                        convert_value(property, components, resolving)?,
                    );
                }
                Value::Object(converted)
            }
            "items" | "not" | "additionalProperties" => {
                convert_value(value, components, resolving)?
            }
            "allOf" | "anyOf" | "oneOf" => {
                let Value::Array(schemas) = value else {
                    return Err(format!("{key} is not an array: {value}"));
                };
                Value::Array(
                    schemas
                        .iter()
                        .map(|schema| convert_value(schema, components, resolving))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }

    if object.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(kind) = out.get_mut("type") {
            *kind = match kind.take() {
                Value::String(single) => Value::Array(vec![Value::String(single), "null".into()]),
                Value::Array(mut several) => {
                    if !several.iter().any(|t| t == "null") {
                        several.push("null".into());
                    }
                    Value::Array(several)
                }
                other => return Err(format!("type is neither a string nor a list: {other}")),
            };
        }
        if let Some(Value::Array(allowed)) = out.get_mut("enum")
            && !allowed.contains(&Value::Null)
        {
            allowed.push(Value::Null);
        }
    }
    Ok(Value::Object(out))
}

/// A validator for `schema` (draft 4, as OpenAPI 3.0 is), with the spec's formats checked
/// and nothing resolved over the network.
pub fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .offline()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_format("jwt", is_jwt)
        .with_format("uuid", is_uuid)
        .with_format("int32", |_: &str| true)
        .with_format("int64", |_: &str| true)
        .with_format("float", |_: &str| true)
        .with_format("double", |_: &str| true)
        .build(schema)
        .unwrap_or_else(|error| panic!("not a usable JSON Schema ({error}): {schema:#}"))
}

/// Every way `instance` breaks the validator's schema, as `path: reason` lines.
pub fn violations(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// `schema` (a converted JSON Schema) with `"additionalProperties": false` on every
/// object schema that lists `properties` and says nothing about other fields. Validating
/// with it finds every field the spec does not name, which the spec's own schemas allow.
pub fn closed(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let value = match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => Value::Object(
                properties
                    .iter()
                    .map(|(name, property)| (name.clone(), closed(property)))
                    .collect(),
            ),
            ("items" | "not" | "additionalProperties", _) => closed(value),
            ("allOf" | "anyOf" | "oneOf", Value::Array(schemas)) => {
                Value::Array(schemas.iter().map(closed).collect())
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if out.get("properties").is_some_and(Value::is_object) {
        out.entry("additionalProperties")
            .or_insert(Value::Bool(false));
    }
    Value::Object(out)
}

/// The property names an object schema declares.
pub fn property_names(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// The property names an object schema requires.
pub fn required_names(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `jwt` format: a compact JWS (three segments) or JWE (five segments) of base64url
/// text, whose first segment (the protected header) is not empty. Other segments may be
/// empty (a JWE with `"alg":"dir"` has no encrypted key).
pub fn is_jwt(text: &str) -> bool {
    let segments: Vec<&str> = text.split('.').collect();
    matches!(segments.len(), 3 | 5)
        && segments.first().is_some_and(|header| !header.is_empty())
        && segments.iter().all(|segment| {
            segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The `uuid` format: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}
