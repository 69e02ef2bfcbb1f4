"""The transformer models: ONNX Runtime, the bundled base model, the embedder, the readers."""
