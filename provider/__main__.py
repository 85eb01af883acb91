"""Entry point of the Stockade component provider plugin (run by Pulumi's Python language host)."""

from stockade.component_provider import serve

if __name__ == "__main__":
    serve()
