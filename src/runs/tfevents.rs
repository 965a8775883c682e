//! TensorBoard's event file: a TFRecord stream of `tensorflow.Event` protobufs, the one
//! format every experiment tracker imports. Only what scalars need is written: the
//! records' framing (length, masked CRC-32C of the length, data, masked CRC-32C of the
//! data) and three small messages, encoded by hand rather than through a protobuf crate.
//!
//! ```text
//! Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//! Summary { repeated Value value = 1; }
//! Value   { string tag = 1; float simple_value = 2; }
//! ```
use std::io::Write;

/// One point of one curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub tag: String,
    pub step: u64,
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    pub value: f32,
}

/// Writes a whole event file: the version record, then one record a scalar.
pub fn write_events(
    out: &mut impl Write,
    start_wall_time: f64,
    scalars: &[Scalar],
) -> std::io::Result<()> {
    write_record(out, &version_event(start_wall_time))?;
    for s in scalars {
        write_record(out, &scalar_event(s))?;
    }
    out.flush()
}

fn version_event(wall_time: f64) -> Vec<u8> {
    let mut e = Vec::new();
    double_field(&mut e, 1, wall_time);
    bytes_field(&mut e, 3, b"brain.Event:2");
    e
}

fn scalar_event(s: &Scalar) -> Vec<u8> {
    let mut value = Vec::new();
    bytes_field(&mut value, 1, s.tag.as_bytes());
    key(&mut value, 2, FIXED32);
    value.extend_from_slice(&s.value.to_le_bytes());
    let mut summary = Vec::new();
    bytes_field(&mut summary, 1, &value);
    let mut e = Vec::new();
    double_field(&mut e, 1, s.wall_time);
    key(&mut e, 2, VARINT);
    varint(&mut e, s.step);
    bytes_field(&mut e, 5, &summary);
    e
}

fn write_record(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    let len = (data.len() as u64).to_le_bytes();
    out.write_all(&len)?;
    out.write_all(&masked_crc(&len).to_le_bytes())?;
    out.write_all(data)?;
    out.write_all(&masked_crc(data).to_le_bytes())
}

/// TFRecord's checksum: CRC-32C, rotated and offset so that a CRC of data holding CRCs
/// stays informative.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, u64::from(field << 3 | u32::from(wire_type)));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn double_field(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, LENGTH_DELIMITED);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli_and_masked_as_tfrecord_does() {
        // The CRC-32C check value (RFC 3720, B.4).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xe306_9283_u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
        assert_ne!(masked_crc(b"123456789"), masked_crc(b"123456780"));
    }

    #[test]
    fn varints_take_seven_bits_a_byte() {
        let enc = |v| {
            let mut out = Vec::new();
            varint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
    }

    #[test]
    fn a_scalar_event_is_framed_and_encoded() {
        let s = Scalar {
            tag: "loss".into(),
            step: 300,
            wall_time: 1.5,
            value: 0.25,
        };
        let mut file = Vec::new();
        write_events(&mut file, 1.0, &[s]).unwrap();
        let version = version_event(1.0);
        let (first, rest) = file.split_at(16 + version.len());
        assert_eq!(&first[..8], (version.len() as u64).to_le_bytes());
        assert_eq!(&first[12..12 + version.len()], version);
        // wall_time 1.5, step 300, summary { value { tag "loss", simple_value 0.25 } }
        let mut data = vec![0x09];
        data.extend_from_slice(&1.5f64.to_le_bytes());
        data.extend_from_slice(&[0x10, 0xac, 0x02, 0x2a, 13, 0x0a, 11, 0x0a, 4]);
        data.extend_from_slice(b"loss");
        data.push(0x15);
        data.extend_from_slice(&0.25f32.to_le_bytes());
        assert_eq!(&rest[..8], (data.len() as u64).to_le_bytes());
        assert_eq!(&rest[8..12], masked_crc(&rest[..8]).to_le_bytes());
        assert_eq!(&rest[12..12 + data.len()], data);
        assert_eq!(&rest[12 + data.len()..], masked_crc(&data).to_le_bytes());
    }
}
