"""capdistill: reinforcement-guided capability distillation of LLMs under one token ledger.

The entry points a notebook needs, imported on first use (`import capdistill` itself loads no torch):

    import capdistill as cd
    cfg = cd.ReadConfig(budget_total_tokens=20_000, budget_gen_tokens=8_000, budget_train_tokens=12_000)
    summary = cd.run_read(cfg)                 # ReAD on the embedded teacher and pruned student
    teacher, tok = cd.load_model('smollm2-135m-instruct')
"""

__version__ = "0.1.0"

_API = {  # name -> the module that defines it
    'Config': 'core.config', 'ConfigError': 'core.config', 'load_config': 'core.config',
    'TokenLedger': 'core.ledger', 'load_model': 'core.models', 'tiny_model': 'core.models',
    'TeacherConfig': 'teachers.spec', 'make_teacher': 'teachers.spec',
    'ReadConfig': 'read.loop', 'run_read': 'read.loop',
    'DistillConfig': 'distill.job', 'run_distill': 'distill.job',
    'EvalConfig': 'eval.evaluation', 'run_eval': 'eval.evaluation',
    'SweepConfig': 'eval.sweep', 'run_sweep': 'eval.sweep',
    'GRPORunConfig': 'rl.grpo', 'run_grpo': 'rl.grpo',
    'RewardLoopConfig': 'rl.reward_loop', 'run_reward_loop': 'rl.reward_loop',
    'IntrinsicConfig': 'rl.intrinsic', 'run_intrinsic': 'rl.intrinsic',
    'RCLConfig': 'rl.rcl', 'run_rcl': 'rl.rcl',
}
__all__ = ['__version__', *_API]


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'capdistill' has no attribute {name!r}; the entry points: {', '.join(_API)}")
    import importlib

    value = getattr(importlib.import_module(f'capdistill.{_API[name]}'), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(__all__)
