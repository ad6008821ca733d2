//! The data a TOML document holds, without its layout: what `fmt` must never change. Tables
//! compare regardless of key order; arrays in order; scalars by type and value.

use serde_json::{Map, Value as Json};
use toml_edit::{Item, Table, Value};

/// The data of a table.
pub fn of_table(table: &Table) -> Json {
    let mut map = Map::new();
    for (key, item) in table.iter() {
        map.insert(key.to_string(), of_item(item));
    }
    Json::Object(map)
}

fn of_item(item: &Item) -> Json {
    match item {
        Item::None => Json::Null,
        Item::Value(value) => of_value(value),
        Item::Table(table) => of_table(table),
        Item::ArrayOfTables(tables) => Json::Array(tables.iter().map(of_table).collect()),
    }
}

fn of_value(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(format!("s:{}", s.value())),
        Value::Integer(i) => Json::String(format!("i:{}", i.value())),
        Value::Float(f) => Json::String(format!("f:{:?}", f.value())),
        Value::Boolean(b) => Json::Bool(*b.value()),
        Value::Datetime(d) => Json::String(format!("d:{}", d.value())),
        Value::Array(a) => Json::Array(a.iter().map(of_value).collect()),
        Value::InlineTable(t) => {
            let mut map = Map::new();
            for (key, v) in t.iter() {
                map.insert(key.to_string(), of_value(v));
            }
            Json::Object(map)
        }
    }
}
