//! Converts the published f32 weights to the f16 shards the repository ships:
//! `cargo run -p paperboy-embed --example convert_weights -- SRC/model.safetensors models/all-MiniLM-L6-v2`
//!
//! Three shards keep every file under 20 MiB: a tensor larger than 12 MiB in f16 (the word
//! embedding table) is cut by rows into parts named `NAME#0`, `NAME#1`, which the loader joins.

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (src, out) = (&args[1], std::path::Path::new(&args[2]));
    let bytes = std::fs::read(src)?;
    let file = SafeTensors::deserialize(&bytes)?;
    let mut tensors = file.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    // (name, shape, f16 bytes), large tensors cut in two by rows.
    let mut parts: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in tensors {
        // Weights are f32; `position_ids` is i64 (0..512, exact in f16): every tensor becomes f16.
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::I64 => view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            other => panic!("{name}: unexpected dtype {other:?}"),
        };
        let halves: Vec<u8> = values.into_iter().flat_map(|v| half::f16::from_f32(v).to_le_bytes()).collect();
        let shape = view.shape().to_vec();
        if halves.len() > 12 << 20 {
            let (rows, row_bytes) = (shape[0], halves.len() / shape[0]);
            let top = rows / 2;
            let mut first = shape.clone();
            first[0] = top;
            let mut second = shape.clone();
            second[0] = rows - top;
            parts.push((format!("{name}#0"), first, halves[..top * row_bytes].to_vec()));
            parts.push((format!("{name}#1"), second, halves[top * row_bytes..].to_vec()));
        } else {
            parts.push((name, shape, halves));
        }
    }
    // Fill shards in name order up to 10M values (19 MiB in f16) each.
    let mut shards: Vec<Vec<(String, TensorView<'_>)>> = vec![Vec::new(), Vec::new(), Vec::new()];
    let (mut shard, mut in_shard) = (0, 0usize);
    for (name, shape, data) in &parts {
        let values = data.len() / 2;
        if in_shard + values > 10_000_000 && in_shard > 0 {
            shard += 1;
            in_shard = 0;
        }
        assert!(shard < 3, "the weights need more than three shards");
        in_shard += values;
        shards[shard].push((name.clone(), TensorView::new(Dtype::F16, shape.clone(), data)?));
    }
    for (i, shard) in shards.into_iter().enumerate() {
        let path = out.join(format!("model-f16-{}-of-3.safetensors", i + 1));
        let count = shard.len();
        safetensors::serialize_to_file(shard, None, &path)?;
        println!("{count} tensors -> {}", path.display());
    }
    Ok(())
}
