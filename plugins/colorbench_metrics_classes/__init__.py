"""Colour-class metrics of CCC++: cnr, ccar, tar and the set-level cnr_union, ccar_union."""
