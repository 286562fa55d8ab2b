"""Models: shared encoders, fusion blocks, and one registered factory per published model.

Importing this package imports every model module so their `@register_model` decorators run.
"""

from avemotion.models.registry import ModelInfo, create_model, list_models, model_info, register_model  # noqa: F401

# Model modules are imported below (each registers itself). Keep this list in sync with the files.
from avemotion.models import unimodal, late, early, msaf, mmtm, cfn_sr, tacfn  # noqa: E402,F401
from avemotion.models.base import AVModel  # noqa: E402,F401
from avemotion.models.weights import LoadReport, load_kinetics, load_unimodal  # noqa: E402,F401
