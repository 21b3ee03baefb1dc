import importlib

"""revival: RBM pretraining by contrastive divergence and dropout, runnable and measurable.

The library API (docs/library.md)::

    import revival
    data = revival.load_dataset("mnist", train_size=1000)
    rbm, hist = revival.fit_rbm(data.x_train, revival.RBMConfig(n_hidden=500, epochs=10))
    dbn, hist = revival.fit_dbn(data.x_train, revival.DBNConfig(layers=(500, 500, 2000)))
    net, hist = revival.fit_net(data.x_train, data.y_train, revival.NetConfig(layers=(500, 500)), init=dbn)

The names load on first use, so ``revival --help`` starts without importing torch.
"""

__version__ = "0.1.0"

_API = {
    "load_dataset": "inputs",
    "fit_rbm": "api",
    "fit_dbn": "api",
    "fit_dbm": "api",
    "fit_net": "api",
    "log_prob": "api",
    "load": "saved",
    "save": "saved",
    "RunLogger": "logger",
    "Dataset": "inputs",
    "compare_dropout": "api",
    "RBMConfig": "config",
    "DBNConfig": "config",
    "NetConfig": "config",
    "DBMConfig": "config",
    "ConfigError": "errors",
    "Diverged": "errors",
    "Interrupted": "errors",
    "RBM": "models.rbm",
    "DBN": "models.dbn",
    "MLP": "models.mlp",
}
__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'revival' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
