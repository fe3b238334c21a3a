//! Digests of the plan's inputs: sha256 over a canonical serialisation.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `value`'s JSON serialisation. Connectors return snapshots in a stable order,
/// so the same state always gives the same digest.
pub fn of_json<T: Serialize>(value: &T) -> String {
    // Serialising into the hasher avoids materialising a large JSON string for 1M accounts; the
    // buffer turns serde_json's many tiny writes into few large hash updates.
    let mut writer = std::io::BufWriter::with_capacity(64 * 1024, HashWriter(Sha256::new()));
    serde_json::to_writer(&mut writer, value).expect("snapshots serialise");
    let hasher = writer
        .into_inner()
        .unwrap_or_else(|_| unreachable!("HashWriter never fails"));
    format!("sha256:{}", hex::encode(hasher.0.finalize()))
}

/// `sha256:<hex>` of raw bytes.
pub fn of_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
