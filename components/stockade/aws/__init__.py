"""AWS components (pulumi-aws). Import the submodule you need; nothing loads eagerly."""
