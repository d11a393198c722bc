//! What a memory snapshot of the runtime needs from the module, checked on its bytes before
//! any snapshot is taken, so that "restore the memory, call `_start` again" is the whole story:
//!
//! - the only mutable state outside linear memory is one mutable `i32` global (the C shadow
//!   stack pointer), which a fresh instance starts at its initial value: right for a snapshot
//!   taken with no call on the stack;
//! - nothing changes tables or drops segments (no `table.set/grow/fill/copy/init`,
//!   `elem.drop`, `data.drop`, `memory.init`), no start function, no imported globals,
//!   memories or tables, and every data segment is active: instantiation rebuilds everything
//!   but linear memory exactly;
//! - `_start` begins with wasi-libc's run-once guard (`if (started) trap; started = 1;`): the
//!   address of `started` is returned, so that the snapshot can clear it and `_start` may run
//!   again over the snapshot's memory.
//!
//! A module that fails any of these gets no snapshot (runs start from scratch as before).

use wasmparser::{DataKind, ExternalKind, Operator, Parser, Payload, TypeRef};

/// What [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StartGuard {
    /// Linear-memory address of `_start`'s run-once flag.
    pub address: u32,
}

/// Check `wasm` (a whole module) and find `_start`'s run-once guard.
pub(crate) fn check(wasm: &[u8]) -> Result<StartGuard, String> {
    let err = |e: wasmparser::BinaryReaderError| format!("unreadable module: {e}");
    let mut imported_funcs = 0u32;
    let mut mutable_globals = 0u32;
    let mut start_func = None;
    let mut guard = None;
    let mut defined = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::ImportSection(s) => {
                for imp in s.into_imports() {
                    match imp.map_err(err)?.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => imported_funcs += 1,
                        TypeRef::Global(_) | TypeRef::Memory(_) | TypeRef::Table(_) => {
                            return Err("the module imports a global, memory or table".into())
                        }
                        TypeRef::Tag(_) => {}
                    }
                }
            }
            Payload::GlobalSection(s) => {
                for g in s {
                    let ty = g.map_err(err)?.ty;
                    if ty.mutable {
                        mutable_globals += 1;
                        if ty.content_type != wasmparser::ValType::I32 {
                            return Err("a mutable global is not an i32".into());
                        }
                    }
                }
            }
            Payload::ExportSection(s) => {
                for e in s {
                    let e = e.map_err(err)?;
                    if e.name == "_start" && e.kind == ExternalKind::Func {
                        start_func = Some(e.index);
                    }
                }
            }
            Payload::StartSection { .. } => return Err("the module has a start function".into()),
            Payload::DataSection(s) => {
                for d in s {
                    if matches!(d.map_err(err)?.kind, DataKind::Passive) {
                        return Err("the module has a passive data segment".into());
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_funcs + defined;
                defined += 1;
                let mut ops = body.get_operators_reader().map_err(err)?;
                let mut first = Vec::new();
                while !ops.eof() {
                    let op = ops.read().map_err(err)?;
                    if mutates_tables_or_segments(&op) {
                        return Err(format!("function {index} changes a table or a segment"));
                    }
                    if Some(index) == start_func && first.len() < 32 {
                        first.push(op);
                    }
                }
                if Some(index) == start_func {
                    guard = Some(start_guard(&first)?);
                }
            }
            _ => {}
        }
    }
    if mutable_globals != 1 {
        return Err(format!(
            "the module has {mutable_globals} mutable globals, not just the stack pointer"
        ));
    }
    guard.ok_or_else(|| "the module exports no `_start` function defined in it".into())
}

fn mutates_tables_or_segments(op: &Operator) -> bool {
    matches!(
        op,
        Operator::TableSet { .. }
            | Operator::TableGrow { .. }
            | Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. }
            | Operator::ElemDrop { .. }
            | Operator::DataDrop { .. }
            | Operator::MemoryInit { .. }
    )
}

/// wasi-libc's `_start`: `if (started != 0) __builtin_trap(); started = 1;` first, compiled to
/// `i32.const A; i32.load; i32.eqz; if; …; i32.const A; i32.const 1; i32.store` after any
/// opening blocks.
fn start_guard(ops: &[Operator]) -> Result<StartGuard, String> {
    let not_block = |op: &&Operator| !matches!(op, Operator::Block { .. });
    let mut it = ops.iter().skip_while(|op| !not_block(op));
    let load = match (it.next(), it.next(), it.next(), it.next()) {
        (
            Some(Operator::I32Const { value }),
            Some(Operator::I32Load { memarg }),
            Some(Operator::I32Eqz),
            Some(Operator::If { .. }),
        ) => address(*value, memarg.offset),
        _ => None,
    };
    let mut it = it.skip_while(|op| !not_block(op));
    let store = match (it.next(), it.next(), it.next()) {
        (
            Some(Operator::I32Const { value }),
            Some(Operator::I32Const { value: 1 }),
            Some(Operator::I32Store { memarg }),
        ) => address(*value, memarg.offset),
        _ => None,
    };
    match (load, store) {
        (Some(a), Some(b)) if a == b => Ok(StartGuard { address: a }),
        _ => Err("`_start` does not begin with wasi-libc's run-once guard".into()),
    }
}

fn address(base: i32, offset: u64) -> Option<u32> {
    u64::from(base as u32)
        .checked_add(offset)
        .and_then(|a| u32::try_from(a).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    const GUARDED: &str = r#"(module
        (global $sp (mut i32) (i32.const 65536))
        (memory (export "memory") 2)
        (func (export "_start")
          (block
            (if (i32.eqz (i32.load (i32.const 1024)))
              (then (i32.store (i32.const 1024) (i32.const 1)) (return))))
          unreachable))"#;

    #[test]
    fn finds_the_run_once_guard() {
        assert_eq!(check(&wat(GUARDED)).unwrap(), StartGuard { address: 1024 });
    }

    #[test]
    fn refuses_modules_a_memory_snapshot_cannot_restore() {
        let two_globals = GUARDED.replace("(memory", "(global $g (mut i32) (i32.const 0)) (memory");
        assert!(check(&wat(&two_globals))
            .unwrap_err()
            .contains("2 mutable globals"));
        let no_guard = r#"(module (global (mut i32) (i32.const 0)) (memory 1)
            (func (export "_start")))"#;
        assert!(check(&wat(no_guard))
            .unwrap_err()
            .contains("run-once guard"));
        let table = GUARDED.replace(
            "unreachable))",
            "unreachable) (table 1 funcref) (func (table.set (i32.const 0) (ref.null func))))",
        );
        assert!(check(&wat(&table)).unwrap_err().contains("table"));
        let passive = GUARDED.replace("(func", "(data \"x\") (func");
        assert!(check(&wat(&passive)).unwrap_err().contains("passive"));
        let started = GUARDED.replace("(func", "(func $s) (start $s) (func");
        assert!(check(&wat(&started))
            .unwrap_err()
            .contains("start function"));
    }
}
