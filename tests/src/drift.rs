//! Schema drift: the spec's component schemas compared with the JSON Schemas another side
//! of the project derives for the same bodies (the fake's `wire` types, through schemars).
//!
//! Both sides are reduced to the same facts per property, and those facts are compared:
//!
//! - the set of property names, and which of them are required;
//! - the JSON type of each property; a union with `"null"` (schemars' form of `Option<T>`)
//!   counts as `T` when the spec's property is optional and not `nullable`, and as
//!   nullable when the spec says `nullable: true`; a required, non-nullable spec property
//!   that allows `null` on the other side is drift, and so is a `nullable` spec property
//!   that does not allow it;
//! - `format`, the `enum` values (`const` counts as a one-value enum; `null` is left out
//!   and counts as nullability), and every length, range and pattern keyword;
//! - `additionalProperties` of every object;
//! - array `items`, compared the same way; a property that refers to another named schema
//!   (`#/components/schemas/X` on the spec side, `#/$defs/X` on the other) must refer to
//!   the schema of the same name, which is compared on its own.
//!
//! A keyword the comparison does not know is reported rather than skipped, so a new
//! constraint on either side cannot pass unnoticed. Descriptions, titles and examples are
//! documentation and are not compared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// Where the spec's named schemas live.
const SPEC_REF_PREFIX: &str = "#/components/schemas/";
/// Where schemars puts the named schemas a root schema refers to.
const DEFS_REF_PREFIX: &str = "#/$defs/";

/// Keywords that document a schema and carry no rule.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "title",
    "description",
    "example",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "externalDocs",
    "$defs",
    "definitions",
];

/// Length, range and pattern keywords: compared by value, whichever side sets them.
const CONSTRAINTS: &[&str] = &[
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// One way the two sides disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `Component` or `Component.property` (`[]` marks array items).
    pub path: String,
    /// What differs: `component`, `properties`, `required`, `type`, `nullable`, `format`,
    /// `enum`, `additionalProperties`, `ref`, `unsupported` or a constraint keyword.
    pub aspect: String,
    /// What the spec says.
    pub spec: String,
    /// What the other side says.
    pub other: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} differs (spec: {}; fake: {})",
            self.path, self.aspect, self.spec, self.other
        )
    }
}

/// A difference the project knows about and accepts, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The finding's path.
    pub path: &'static str,
    /// The finding's aspect.
    pub aspect: &'static str,
    /// Why it is accepted.
    pub why: &'static str,
}

impl Accepted {
    /// Whether this accepted difference covers `finding`.
    pub fn covers(&self, finding: &Finding) -> bool {
        finding.path == self.path && finding.aspect == self.aspect
    }
}

/// One compared property, for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `Component.property`.
    pub path: String,
    /// Whether the spec requires it (`None`: the spec does not have it).
    pub spec_required: Option<bool>,
    /// Whether the other side requires it (`None`: it does not have it).
    pub other_required: Option<bool>,
    /// The spec's facts, in short.
    pub spec: String,
    /// The other side's facts, in short.
    pub other: String,
    /// How many findings name this property.
    pub findings: usize,
    /// Whether the other side allows `null` for an optional property the spec does not
    /// call nullable (`Option<T>` for a field that may be absent), which counts as the same.
    pub option_for_optional: bool,
}

/// The outcome of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comparison {
    /// Every compared property, component by component.
    pub rows: Vec<Row>,
    /// Every disagreement.
    pub findings: Vec<Finding>,
}

impl Comparison {
    /// The findings no entry of `accepted` covers.
    pub fn unaccepted<'a>(&'a self, accepted: &[Accepted]) -> Vec<&'a Finding> {
        self.findings
            .iter()
            .filter(|finding| !accepted.iter().any(|entry| entry.covers(finding)))
            .collect()
    }

    /// The entries of `accepted` that cover no finding (stale: remove them).
    pub fn stale<'a>(&self, accepted: &'a [Accepted]) -> Vec<&'a Accepted> {
        accepted
            .iter()
            .filter(|entry| !self.findings.iter().any(|finding| entry.covers(finding)))
            .collect()
    }

    /// A table of every compared property and what each side says about it.
    pub fn table(&self) -> String {
        let width = |pick: &dyn Fn(&Row) -> usize, title: &str| {
            self.rows
                .iter()
                .map(pick)
                .max()
                .unwrap_or(0)
                .max(title.len())
        };
        let path_width = width(&|row| row.path.len(), "component.property");
        let spec_width = width(&|row| row.spec.len(), "spec");
        let other_width = width(&|row| row.other.len(), "fake (schemars)");
        let required = |value: Option<bool>| match value {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:path_width$}  {:7}  {:spec_width$}  {:other_width$}  verdict",
            "component.property", "req", "spec", "fake (schemars)"
        );
        for row in &self.rows {
            let verdict = if row.findings == 0 && row.option_for_optional {
                "same (null = absent)".to_owned()
            } else if row.findings == 0 {
                "same".to_owned()
            } else {
                format!("{} difference(s)", row.findings)
            };
            let _ = writeln!(
                out,
                "{:path_width$}  {:7}  {:spec_width$}  {:other_width$}  {verdict}",
                row.path,
                format!(
                    "{}/{}",
                    required(row.spec_required),
                    required(row.other_required)
                ),
                row.spec,
                row.other,
            );
        }
        let _ = write!(
            out,
            "compared {} properties, {} difference(s)",
            self.rows.len(),
            self.findings.len()
        );
        out
    }
}

/// Compares every spec component (`components`, as `schema::components` gives them) with
/// the schema `others` holds under the same name (a schemars root schema, `$defs`
/// included). A component with no counterpart, and a counterpart with no component, are
/// findings too.
pub fn compare(components: &Map<String, Value>, others: &BTreeMap<String, Value>) -> Comparison {
    let mut comparison = Comparison::default();
    for (name, spec_schema) in components {
        let Some(other) = others.get(name) else {
            comparison.findings.push(Finding {
                path: name.clone(),
                aspect: "component".to_owned(),
                spec: "a component schema".to_owned(),
                other: "no wire type of this name".to_owned(),
            });
            continue;
        };
        let defs = other
            .get("$defs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let sides = Sides {
            components,
            defs: &defs,
        };
        sides.compare_object(name, spec_schema, other, &mut comparison);
    }
    for name in others.keys() {
        if !components.contains_key(name) {
            comparison.findings.push(Finding {
                path: name.clone(),
                aspect: "component".to_owned(),
                spec: "no component schema of this name".to_owned(),
                other: "a wire type".to_owned(),
            });
        }
    }
    comparison
}

/// What a property's schema says, reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Shape {
    /// JSON types other than `null`.
    types: BTreeSet<String>,
    /// Whether `null` is allowed.
    nullable: bool,
    format: Option<String>,
    /// Allowed values other than `null`, as JSON text.
    enumeration: Option<BTreeSet<String>>,
    constraints: BTreeMap<String, Value>,
    additional: Option<String>,
    /// The named schema this refers to.
    reference: Option<String>,
    /// The schema, with references resolved, for comparing items and inline objects.
    resolved: Value,
    /// Keywords the comparison does not know.
    unsupported: Vec<String>,
}

impl Shape {
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        let mut kind = if self.types.is_empty() {
            "any".to_owned()
        } else {
            self.types.iter().cloned().collect::<Vec<_>>().join("|")
        };
        if let Some(reference) = &self.reference {
            kind = format!("{kind} -> {reference}");
        }
        if self.types.contains("array")
            && let Some(items) = self.resolved.get("items")
        {
            let items = items
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(ref_name)
                .map_or_else(
                    || {
                        items
                            .get("type")
                            .map_or_else(|| "any".to_owned(), Value::to_string)
                    },
                    str::to_owned,
                );
            kind = format!("{kind} of {items}");
        }
        parts.push(kind);
        if self.nullable {
            parts.push("null".to_owned());
        }
        if let Some(format) = &self.format {
            parts.push(format!("format={format}"));
        }
        if let Some(values) = &self.enumeration {
            parts.push(format!(
                "enum={}",
                values.iter().cloned().collect::<Vec<_>>().join(",")
            ));
        }
        for (keyword, value) in &self.constraints {
            parts.push(format!("{keyword}={value}"));
        }
        parts.join(" ")
    }
}

/// The name a `$ref` points at, on either side.
fn ref_name(reference: &str) -> Option<&str> {
    reference
        .strip_prefix(SPEC_REF_PREFIX)
        .or_else(|| reference.strip_prefix(DEFS_REF_PREFIX))
}

/// Where each side's named schemas are looked up.
struct Sides<'a> {
    components: &'a Map<String, Value>,
    defs: &'a Map<String, Value>,
}

#[derive(Clone, Copy)]
enum Side {
    Spec,
    Other,
}

impl Sides<'_> {
    fn lookup(&self, side: Side, reference: &str) -> Option<&Value> {
        let name = ref_name(reference)?;
        match side {
            Side::Spec if reference.starts_with(SPEC_REF_PREFIX) => self.components.get(name),
            Side::Other if reference.starts_with(DEFS_REF_PREFIX) => self.defs.get(name),
            _ => None,
        }
    }

    /// Reads the shape of one schema. A `$ref` is resolved (the name is kept); an
    /// `anyOf`/`oneOf` whose branches are `null` and one other schema, or only constants,
    /// is folded into one shape.
    fn shape(&self, side: Side, schema: &Value) -> Shape {
        let mut shape = Shape {
            resolved: schema.clone(),
            ..Shape::default()
        };
        let Some(object) = schema.as_object() else {
            if schema != &Value::Bool(true) {
                shape.unsupported.push(format!("the schema {schema}"));
            }
            return shape;
        };
        for (keyword, value) in object {
            let keyword = keyword.as_str();
            if ANNOTATIONS.contains(&keyword) || keyword.starts_with("x-") {
                continue;
            }
            if CONSTRAINTS.contains(&keyword) {
                shape.constraints.insert(keyword.to_owned(), value.clone());
                continue;
            }
            match keyword {
                "$ref" => {
                    let reference = value.as_str().unwrap_or_default();
                    let Some(target) = self.lookup(side, reference) else {
                        shape
                            .unsupported
                            .push(format!("$ref {value} resolves to nothing"));
                        continue;
                    };
                    let target_shape = self.shape(side, target);
                    let name = ref_name(reference).map(str::to_owned);
                    shape = merge(shape, target_shape);
                    shape.reference = name;
                    shape.resolved = target.clone();
                }
                "type" => match value {
                    Value::String(kind) => {
                        shape.types.insert(kind.clone());
                    }
                    Value::Array(kinds) => {
                        shape
                            .types
                            .extend(kinds.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    other => shape.unsupported.push(format!("type {other}")),
                },
                "nullable" => shape.nullable |= value == &Value::Bool(true),
                "format" => shape.format = value.as_str().map(str::to_owned),
                "enum" | "const" => {
                    let values: Vec<Value> = match value {
                        Value::Array(values) if keyword == "enum" => values.clone(),
                        single => vec![single.clone()],
                    };
                    let set = shape.enumeration.get_or_insert_with(BTreeSet::new);
                    for value in values {
                        if value.is_null() {
                            shape.nullable = true;
                        } else {
                            set.insert(value.to_string());
                        }
                    }
                }
                "additionalProperties" => {
                    shape.additional = Some(match value {
                        Value::Bool(true) => "allowed".to_owned(),
                        Value::Bool(false) => "refused".to_owned(),
                        schema => format!("only {schema}"),
                    });
                }
                "anyOf" | "oneOf" => {
                    let branches = value.as_array().cloned().unwrap_or_default();
                    let shapes: Vec<Shape> = branches
                        .iter()
                        .map(|branch| self.shape(side, branch))
                        .collect();
                    let non_null: Vec<&Shape> = shapes
                        .iter()
                        .filter(|branch| !(branch.types.is_empty() && branch.nullable))
                        .collect();
                    let only_constants = non_null
                        .iter()
                        .all(|branch| branch.enumeration.is_some() && branch.reference.is_none());
                    if non_null.len() == 1 || only_constants {
                        let single = (non_null.len() == 1)
                            .then(|| non_null.first().map(|branch| branch.resolved.clone()))
                            .flatten();
                        for branch in shapes {
                            shape = merge(shape, branch);
                        }
                        if let Some(resolved) = single {
                            shape.resolved = resolved;
                        }
                    } else {
                        shape
                            .unsupported
                            .push(format!("{keyword} with {} branches", branches.len()));
                    }
                }
                "items" | "properties" | "required" => {}
                other => shape.unsupported.push(format!("keyword `{other}`")),
            }
        }
        // `null` as a type means nullable, not a kind of value.
        if shape.types.remove("null") {
            shape.nullable = true;
        }
        shape
    }

    /// Compares two object schemas property by property, adding rows and findings.
    fn compare_object(&self, path: &str, spec: &Value, other: &Value, out: &mut Comparison) {
        let spec_shape = self.shape(Side::Spec, spec);
        let other_shape = self.shape(Side::Other, other);
        let finding = |aspect: &str, spec: String, other: String| Finding {
            path: path.to_owned(),
            aspect: aspect.to_owned(),
            spec,
            other,
        };
        compare_shapes(path, &spec_shape, &other_shape, false, out);
        let show_additional =
            |value: &Option<String>| value.clone().unwrap_or_else(|| "allowed".to_owned());
        let (spec_additional, other_additional) = (
            show_additional(&spec_shape.additional),
            show_additional(&other_shape.additional),
        );
        if spec_additional != other_additional {
            out.findings.push(finding(
                "additionalProperties",
                spec_additional,
                other_additional,
            ));
        }

        let spec = &spec_shape.resolved;
        let other = &other_shape.resolved;
        let properties = |schema: &Value| -> Map<String, Value> {
            schema
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let required = |schema: &Value| -> BTreeSet<String> {
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
        };
        let (spec_properties, other_properties) = (properties(spec), properties(other));
        let (spec_required, other_required) = (required(spec), required(other));
        let names = |properties: &Map<String, Value>| -> BTreeSet<String> {
            properties.keys().cloned().collect()
        };
        let (spec_names, other_names) = (names(&spec_properties), names(&other_properties));
        if spec_names != other_names {
            let list = |names: &BTreeSet<String>, missing_from: &BTreeSet<String>| {
                let only: Vec<&str> = names.difference(missing_from).map(String::as_str).collect();
                if only.is_empty() {
                    "nothing else".to_owned()
                } else {
                    format!("also {}", only.join(", "))
                }
            };
            out.findings.push(finding(
                "properties",
                list(&spec_names, &other_names),
                list(&other_names, &spec_names),
            ));
        }
        if spec_required != other_required {
            let list = |names: &BTreeSet<String>| {
                format!("[{}]", names.iter().cloned().collect::<Vec<_>>().join(", "))
            };
            out.findings.push(finding(
                "required",
                list(&spec_required),
                list(&other_required),
            ));
        }

        for name in spec_names.union(&other_names) {
            let property_path = format!("{path}.{name}");
            let before = out.findings.len();
            let spec_property = spec_properties
                .get(name)
                .map(|schema| self.shape(Side::Spec, schema));
            let other_property = other_properties
                .get(name)
                .map(|schema| self.shape(Side::Other, schema));
            if let (Some(spec_property), Some(other_property)) = (&spec_property, &other_property) {
                compare_shapes(
                    &property_path,
                    spec_property,
                    other_property,
                    spec_required.contains(name),
                    out,
                );
                self.compare_nested(&property_path, spec_property, other_property, out);
            }
            let option_for_optional = match (&spec_property, &other_property) {
                (Some(spec), Some(other)) => {
                    !spec.nullable && other.nullable && !spec_required.contains(name)
                }
                _ => false,
            };
            let in_spec = spec_property.is_some();
            let in_other = other_property.is_some();
            let findings = out.findings[before..].len()
                + usize::from(in_spec != in_other)
                + usize::from(spec_required.contains(name) != other_required.contains(name));
            out.rows.push(Row {
                path: property_path,
                spec_required: in_spec.then(|| spec_required.contains(name)),
                other_required: in_other.then(|| other_required.contains(name)),
                spec: spec_property.map_or_else(|| "-".to_owned(), |shape| shape.summary()),
                other: other_property.map_or_else(|| "-".to_owned(), |shape| shape.summary()),
                findings,
                option_for_optional,
            });
        }
    }

    /// Array items and inline objects: compared the same way, one level down.
    fn compare_nested(&self, path: &str, spec: &Shape, other: &Shape, out: &mut Comparison) {
        let is_named = spec.reference.is_some() || other.reference.is_some();
        if spec.types.contains("object") && other.types.contains("object") && !is_named {
            self.compare_object(path, &spec.resolved, &other.resolved, out);
        }
        if spec.types.contains("array") && other.types.contains("array") {
            let items = |shape: &Shape| shape.resolved.get("items").cloned();
            match (items(spec), items(other)) {
                (Some(spec_items), Some(other_items)) => {
                    let items_path = format!("{path}[]");
                    let spec_items = self.shape(Side::Spec, &spec_items);
                    let other_items = self.shape(Side::Other, &other_items);
                    compare_shapes(&items_path, &spec_items, &other_items, true, out);
                    self.compare_nested(&items_path, &spec_items, &other_items, out);
                }
                (None, None) => {}
                (spec_items, other_items) => out.findings.push(Finding {
                    path: format!("{path}[]"),
                    aspect: "items".to_owned(),
                    spec: spec_items.map_or_else(|| "any".to_owned(), |items| items.to_string()),
                    other: other_items.map_or_else(|| "any".to_owned(), |items| items.to_string()),
                }),
            }
        }
    }
}

/// Folds `branch` into `shape` (for `anyOf`/`oneOf` and resolved references).
fn merge(mut shape: Shape, branch: Shape) -> Shape {
    shape.types.extend(branch.types);
    shape.nullable |= branch.nullable;
    shape.format = shape.format.or(branch.format);
    if let Some(values) = branch.enumeration {
        shape
            .enumeration
            .get_or_insert_with(BTreeSet::new)
            .extend(values);
    }
    for (keyword, value) in branch.constraints {
        shape.constraints.entry(keyword).or_insert(value);
    }
    shape.additional = shape.additional.or(branch.additional);
    shape.reference = shape.reference.or(branch.reference);
    shape.unsupported.extend(branch.unsupported);
    shape
}

/// Compares the facts of two shapes at `path`. `required` says whether the spec requires
/// the property (array items count as required: an item is never absent).
fn compare_shapes(path: &str, spec: &Shape, other: &Shape, required: bool, out: &mut Comparison) {
    let mut finding = |aspect: &str, spec: String, other: String| {
        out.findings.push(Finding {
            path: path.to_owned(),
            aspect: aspect.to_owned(),
            spec,
            other,
        });
    };
    let show_set = |set: &BTreeSet<String>| {
        if set.is_empty() {
            "any".to_owned()
        } else {
            set.iter().cloned().collect::<Vec<_>>().join("|")
        }
    };
    for (side, shape) in [("spec", spec), ("fake", other)] {
        for keyword in &shape.unsupported {
            finding(
                "unsupported",
                format!("{side} uses {keyword}"),
                "teach tests/src/drift.rs to compare it".to_owned(),
            );
        }
    }
    if spec.types != other.types {
        finding("type", show_set(&spec.types), show_set(&other.types));
    }
    match (spec.nullable, other.nullable) {
        (true, false) => finding(
            "nullable",
            "nullable: true".to_owned(),
            "null is refused".to_owned(),
        ),
        // `Option<T>` for a field the spec lets clients leave out: the same as T.
        (false, true) if !required => {}
        (false, true) => finding(
            "nullable",
            "required and not nullable".to_owned(),
            "null is allowed".to_owned(),
        ),
        _ => {}
    }
    if spec.format != other.format {
        let show = |format: &Option<String>| format.clone().unwrap_or_else(|| "none".to_owned());
        finding("format", show(&spec.format), show(&other.format));
    }
    if spec.enumeration != other.enumeration {
        let show = |values: &Option<BTreeSet<String>>| {
            values
                .as_ref()
                .map_or_else(|| "any value".to_owned(), show_set)
        };
        finding("enum", show(&spec.enumeration), show(&other.enumeration));
    }
    let keywords: BTreeSet<&String> = spec
        .constraints
        .keys()
        .chain(other.constraints.keys())
        .collect();
    for keyword in keywords {
        let (spec_value, other_value) = (
            spec.constraints.get(keyword),
            other.constraints.get(keyword),
        );
        if !same_number_or_value(spec_value, other_value) {
            let show =
                |value: Option<&Value>| value.map_or_else(|| "none".to_owned(), Value::to_string);
            finding(keyword, show(spec_value), show(other_value));
        }
    }
    let is_object = spec.types.contains("object") || other.types.contains("object");
    if is_object && spec.reference != other.reference {
        let show = |reference: &Option<String>| {
            reference
                .clone()
                .unwrap_or_else(|| "an inline schema".to_owned())
        };
        finding("ref", show(&spec.reference), show(&other.reference));
    }
}

/// Equal values, with numbers compared by value (`43` and `43.0` are the same length).
fn same_number_or_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}
