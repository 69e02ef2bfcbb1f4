"""The edges on the web: the HTTP API, the Gradio UI, the source pages, the widget."""
