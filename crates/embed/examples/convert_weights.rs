//! Converts the published f32 weights to the f16 shards the repository ships:
//! `cargo run -p paperboy-embed --example convert_weights -- SRC/model.safetensors models/all-MiniLM-L6-v2`
//!
//! Three shards keep every file under 20 MiB: a tensor larger than 12 MiB in f16 (the word
//! embedding table) is cut by rows into parts named `NAME#0`, `NAME#1`, which the loader joins.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (src, out) = (&args[1], std::path::Path::new(&args[2]));
    let mut tensors: Vec<(String, Tensor)> = candle_core::safetensors::load(src, &Device::Cpu)?.into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let total: usize = tensors.iter().map(|(_, t)| t.elem_count()).sum();
    let mut shards: Vec<HashMap<String, Tensor>> = vec![HashMap::new(), HashMap::new(), HashMap::new()];
    let mut done = 0usize;
    let mut parts: Vec<(String, Tensor)> = Vec::new();
    for (name, t) in tensors {
        let t = t.to_dtype(DType::F16)?;
        if t.elem_count() * 2 > 12 << 20 {
            let rows = t.dim(0)?;
            parts.push((format!("{name}#0"), t.narrow(0, 0, rows / 2)?.contiguous()?));
            parts.push((format!("{name}#1"), t.narrow(0, rows / 2, rows - rows / 2)?.contiguous()?));
        } else {
            parts.push((name, t));
        }
    }
    // Fill shards in name order up to 10M values (19 MiB in f16) each.
    let mut shard = 0;
    let mut in_shard = 0usize;
    for (name, t) in parts {
        if in_shard + t.elem_count() > 10_000_000 && in_shard > 0 {
            shard += 1;
            in_shard = 0;
        }
        assert!(shard < 3, "the weights need more than three shards");
        in_shard += t.elem_count();
        done += t.elem_count();
        shards[shard].insert(name, t);
    }
    assert_eq!(done, total);
    for (i, shard) in shards.iter().enumerate() {
        let path = out.join(format!("model-f16-{}-of-3.safetensors", i + 1));
        candle_core::safetensors::save(shard, &path)?;
        println!("{} tensors -> {}", shard.len(), path.display());
    }
    Ok(())
}
