"""Operators that move CRM data out of Fxiaoke into other systems."""
