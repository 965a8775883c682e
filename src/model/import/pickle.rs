//! A small pickle VM for the opcodes `torch.save` emits (protocol 2, plus the protocol 4
//! ones a hand-written pickler may use). It builds plain values; calls it cannot
//! evaluate become [`Value::Object`]s that say what class the file wanted.

/// Element types of torch storages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    /// From a storage class name such as `FloatStorage`.
    pub fn from_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::Bf16,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::Bf16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    pub fn kind(self) -> tch::Kind {
        use tch::Kind;
        match self {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::Bf16 => Kind::BFloat16,
            Dtype::F64 => Kind::Double,
            Dtype::I64 => Kind::Int64,
            Dtype::I32 => Kind::Int,
            Dtype::I16 => Kind::Int16,
            Dtype::I8 => Kind::Int8,
            Dtype::U8 => Kind::Uint8,
            Dtype::Bool => Kind::Bool,
        }
    }
}

/// A tensor as the pickle describes it: a view into a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub dtype: Dtype,
    pub storage_key: String,
    pub storage_numel: i64,
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too large for i64 (little-endian two's complement bytes).
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Dicts keep their order (state dicts are OrderedDicts).
    Dict(Vec<(Value, Value)>),
    /// `module.name` of a class or function.
    Global(String),
    Storage {
        dtype: Dtype,
        key: String,
        numel: i64,
    },
    Tensor(TensorRef),
    /// A call or object the VM does not evaluate.
    Object {
        class: String,
        args: Vec<Value>,
    },
}

impl Value {
    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "a bool".into(),
            Value::Int(_) | Value::BigInt(_) => "an int".into(),
            Value::Float(_) => "a float".into(),
            Value::Str(_) => "a string".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Tuple(v) => format!("a tuple of {}", v.len()),
            Value::List(v) => format!("a list of {}", v.len()),
            Value::Dict(v) => format!("a dict of {} entries", v.len()),
            Value::Global(g) => format!("the global `{g}`"),
            Value::Storage { .. } => "a storage".into(),
            Value::Tensor(_) => "a tensor".into(),
            Value::Object { class, .. } => format!("a pickled `{class}` object"),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| format!("pickle truncated at byte {}", self.pos))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("pickle truncated at byte {}", self.pos))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
}

fn long_from_bytes(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() > 8 {
        return Value::BigInt(b.to_vec());
    }
    let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
    let mut buf = [fill; 8];
    buf[..b.len()].copy_from_slice(b);
    Value::Int(i64::from_le_bytes(buf))
}

fn as_int(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(format!(
            "{what}: expected an int, found {}",
            other.describe()
        )),
    }
}

fn as_ints(v: &Value, what: &str) -> Result<Vec<i64>, String> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().map(|i| as_int(i, what)).collect(),
        other => Err(format!(
            "{what}: expected a tuple, found {}",
            other.describe()
        )),
    }
}

/// Persistent id of a torch storage: `('storage', StorageClass, key, location, numel, ...)`.
fn persistent_load(pid: Value) -> Result<Value, String> {
    let items = match pid {
        Value::Tuple(items) => items,
        other => return Err(format!("unknown persistent id {}", other.describe())),
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global(class), Value::Str(key), _location, numel, ..]
            if tag == "storage" =>
        {
            let name = class.rsplit('.').next().unwrap_or(class);
            let dtype = Dtype::from_storage(name)
                .ok_or_else(|| format!("unsupported storage type `{class}`"))?;
            Ok(Value::Storage {
                dtype,
                key: key.clone(),
                numel: as_int(numel, "storage size")?,
            })
        }
        _ => Err("unknown persistent id (not a torch storage)".into()),
    }
}

/// Applies a global to its arguments.
fn reduce(func: Value, args: Value) -> Result<Value, String> {
    let args = match args {
        Value::Tuple(a) => a,
        other => vec![other],
    };
    let class = match func {
        Value::Global(g) => g,
        other => {
            return Ok(Value::Object {
                class: format!("call of {}", other.describe()),
                args,
            })
        }
    };
    match class.as_str() {
        "collections.OrderedDict" | "builtins.dict" | "__builtin__.dict" if args.is_empty() => {
            Ok(Value::Dict(Vec::new()))
        }
        "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => {
            if args.len() < 4 {
                return Err(format!("{class} with {} arguments", args.len()));
            }
            let Value::Storage { dtype, key, numel } = &args[0] else {
                return Err(format!(
                    "{class}: expected a storage, found {}",
                    args[0].describe()
                ));
            };
            Ok(Value::Tensor(TensorRef {
                dtype: *dtype,
                storage_key: key.clone(),
                storage_numel: *numel,
                offset: as_int(&args[1], "storage offset")?,
                size: as_ints(&args[2], "tensor size")?,
                stride: as_ints(&args[3], "tensor stride")?,
            }))
        }
        "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state"
            if !args.is_empty() =>
        {
            Ok(args.into_iter().next().unwrap())
        }
        _ => Ok(Value::Object { class, args }),
    }
}

/// The VM's stack, remembering how low it went during the current opcode, so memo
/// entries of values that left it are no longer refreshed.
struct Stack {
    items: Vec<Value>,
    low: usize,
}

impl Stack {
    fn pop(&mut self) -> Option<Value> {
        let v = self.items.pop();
        self.low = self.low.min(self.items.len());
        v
    }
    fn split_off(&mut self, at: usize) -> Vec<Value> {
        let v = self.items.split_off(at);
        self.low = self.low.min(at);
        v
    }
}

impl std::ops::Deref for Stack {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        &self.items
    }
}

impl std::ops::DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        &mut self.items
    }
}

/// Runs one pickle starting at `start`; returns its value and the offset after STOP.
pub fn load(data: &[u8], start: usize) -> Result<(Value, usize), String> {
    let mut r = Reader { data, pos: start };
    let mut stack = Stack {
        items: Vec::new(),
        low: 0,
    };
    // Memo entries whose value is still on the stack (memo id, position): a dict or list
    // is memoised before its items arrive, so those entries follow it until it leaves.
    let mut live: Vec<(u64, usize)> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: std::collections::HashMap<u64, Value> = Default::default();
    let pop = |stack: &mut Stack| {
        stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    };
    let pop_mark = |stack: &mut Stack, marks: &mut Vec<usize>| -> Result<Vec<Value>, String> {
        let m = marks.pop().ok_or("pickle MARK missing")?;
        if m > stack.len() {
            return Err("pickle MARK beyond the stack".into());
        }
        Ok(stack.split_off(m))
    };
    loop {
        live.retain(|&(_, pos)| pos < stack.low);
        let top = stack.len().checked_sub(1);
        if let Some(&(_, pos)) = live.last() {
            // The container on top may have grown during the last opcode.
            if Some(pos) == top {
                for &(id, p) in live.iter().rev().take_while(|&&(_, p)| p == pos) {
                    memo.insert(id, stack[p].clone());
                }
            }
        }
        stack.low = stack.len();
        let at = r.pos;
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?;
            }
            0x95 => {
                r.u64()?;
            }
            b'.' => {
                let v = pop(&mut stack)?;
                return Ok((v, r.pos));
            }
            b'(' => marks.push(stack.len()),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b'}' => stack.push(Value::Dict(Vec::new())),
            0x8f => stack.push(Value::List(Vec::new())),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'J' => stack.push(Value::Int(r.u32()? as i32 as i64)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(r.u16()? as i64)),
            0x8a => {
                let n = r.u8()? as usize;
                stack.push(long_from_bytes(r.take(n)?));
            }
            0x8b => {
                let n = r.u32()? as usize;
                stack.push(long_from_bytes(r.take(n)?));
            }
            b'I' | b'L' => {
                let line = r.line()?;
                let s = line.trim_end_matches('L');
                stack.push(match s {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    _ => Value::Int(s.parse().map_err(|_| format!("bad INT `{line}`"))?),
                });
            }
            b'F' => {
                let line = r.line()?;
                stack.push(Value::Float(
                    line.parse().map_err(|_| format!("bad FLOAT `{line}`"))?,
                ));
            }
            b'G' => stack.push(Value::Float(f64::from_be_bytes(
                r.take(8)?.try_into().unwrap(),
            ))),
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => r.u32()? as usize,
                    0x8c => r.u8()? as usize,
                    _ => r.u64()? as usize,
                };
                let s = std::str::from_utf8(r.take(n)?)
                    .map_err(|_| format!("invalid UTF-8 string at byte {at}"))?;
                stack.push(Value::Str(s.to_string()));
            }
            b'T' | b'U' => {
                let n = if op == b'T' {
                    r.u32()? as usize
                } else {
                    r.u8()? as usize
                };
                let s = r.take(n)?.iter().map(|&b| b as char).collect();
                stack.push(Value::Str(s));
            }
            b'B' | b'C' | 0x8e => {
                let n = match op {
                    b'B' => r.u32()? as usize,
                    b'C' => r.u8()? as usize,
                    _ => r.u64()? as usize,
                };
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Value::Global(format!("{module}.{name}")));
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => stack.push(Value::Global(format!("{m}.{n}"))),
                    _ => return Err("STACK_GLOBAL without strings".into()),
                }
            }
            b'q' | b'r' | 0x94 | b'p' => {
                let idx = match op {
                    b'q' => r.u8()? as u64,
                    b'r' => r.u32()? as u64,
                    0x94 => memo.len() as u64,
                    _ => r.line()?.parse().map_err(|_| "bad PUT".to_string())?,
                };
                let top = stack.last().ok_or("memo of an empty stack")?.clone();
                if matches!(top, Value::Dict(_) | Value::List(_)) {
                    live.push((idx, stack.len() - 1));
                }
                memo.insert(idx, top);
            }
            b'h' | b'j' | b'g' => {
                let idx = match op {
                    b'h' => r.u8()? as u64,
                    b'j' => r.u32()? as u64,
                    _ => r.line()?.parse().map_err(|_| "bad GET".to_string())?,
                };
                let v = memo
                    .get(&idx)
                    .ok_or_else(|| format!("memo {idx} missing"))?
                    .clone();
                stack.push(v);
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.push(v),
                    _ => return Err("APPEND to a non-list".into()),
                }
            }
            b'e' | 0x90 => {
                let items = pop_mark(&mut stack, &mut marks)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("APPENDS to a non-list".into()),
                }
            }
            0x91 => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(items));
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.push((k, v)),
                    Some(_) => {} // item assignment on an object: kept out of the value
                    None => return Err("SETITEM on an empty stack".into()),
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                if items.len() % 2 != 0 {
                    return Err("SETITEMS with an odd count".into());
                }
                let mut it = items.into_iter();
                match stack.last_mut() {
                    Some(Value::Dict(d)) => {
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    Some(_) => {}
                    None => return Err("SETITEMS on an empty stack".into()),
                }
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let func = pop(&mut stack)?;
                stack.push(reduce(func, args)?);
            }
            0x81 => {
                let args = pop(&mut stack)?;
                let cls = pop(&mut stack)?;
                let class = match cls {
                    Value::Global(g) => g,
                    other => other.describe(),
                };
                let args = match args {
                    Value::Tuple(a) => a,
                    other => vec![other],
                };
                stack.push(Value::Object { class, args });
            }
            0x92 => {
                let _kwargs = pop(&mut stack)?;
                let args = pop(&mut stack)?;
                let cls = pop(&mut stack)?;
                stack.push(reduce(cls, args)?);
            }
            b'b' => {
                // State of a dict (an OrderedDict's `_metadata`), of a tensor or of an
                // object: not part of the tensors.
                pop(&mut stack)?;
                if stack.is_empty() {
                    return Err("BUILD on an empty stack".into());
                }
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(persistent_load(pid)?);
            }
            b'P' => {
                let line = r.line()?;
                return Err(format!(
                    "text persistent id `{line}` is not a torch storage"
                ));
            }
            b'0' => {
                pop(&mut stack)?;
            }
            b'1' => {
                pop_mark(&mut stack, &mut marks)?;
            }
            b'2' => {
                let top = stack.last().ok_or("DUP of an empty stack")?.clone();
                stack.push(top);
            }
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {at}"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values() {
        // pickle.dumps({'a': [1, -2, 300, 2**40], 'b': (True, None, 1.5)}, protocol=2)
        let bytes: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffM,\x01\x8a\x06\x00\x00\x00\x00\x00\x01eX\x01\x00\x00\x00bq\x03\x88NG?\xf8\x00\x00\x00\x00\x00\x00\x87q\x04u.";
        let (v, end) = load(bytes, 0).unwrap();
        assert_eq!(end, bytes.len());
        assert_eq!(
            v,
            Value::Dict(vec![
                (
                    Value::Str("a".into()),
                    Value::List(vec![
                        Value::Int(1),
                        Value::Int(-2),
                        Value::Int(300),
                        Value::Int(1 << 40)
                    ])
                ),
                (
                    Value::Str("b".into()),
                    Value::Tuple(vec![Value::Bool(true), Value::None, Value::Float(1.5)])
                ),
            ])
        );
    }

    #[test]
    fn memo_references_see_the_filled_container() {
        // d = {'a': 1}; l = [2]; pickle.dumps((d, l, d, l), protocol=2)
        let bytes: &[u8] =
            b"\x80\x02(}q\x00X\x01\x00\x00\x00aq\x01K\x01s]q\x02K\x02ah\x00h\x02tq\x03.";
        let (v, _) = load(bytes, 0).unwrap();
        let d = Value::Dict(vec![(Value::Str("a".into()), Value::Int(1))]);
        let l = Value::List(vec![Value::Int(2)]);
        assert_eq!(v, Value::Tuple(vec![d.clone(), l.clone(), d, l]));
        // g = OrderedDict(x={'a': 1}); pickle.dumps([g, OrderedDict, g], protocol=2): the
        // class memoised before the REDUCE keeps being the class.
        let bytes: &[u8] = b"\x80\x02]q\x00(ccollections\nOrderedDict\nq\x01)Rq\x02X\x01\x00\x00\x00xq\x03}q\x04X\x01\x00\x00\x00aq\x05K\x01ssh\x01h\x02e.";
        let (v, _) = load(bytes, 0).unwrap();
        let g = Value::Dict(vec![(
            Value::Str("x".into()),
            Value::Dict(vec![(Value::Str("a".into()), Value::Int(1))]),
        )]);
        assert_eq!(
            v,
            Value::List(vec![
                g.clone(),
                Value::Global("collections.OrderedDict".into()),
                g
            ])
        );
    }

    #[test]
    fn truncated_pickle_is_an_error() {
        assert!(load(b"\x80\x02}q", 0).unwrap_err().contains("truncated"));
    }
}
