"""Recipes: YAML plans of surgery steps, validated with errors that point into the file."""
import os

from .loader import Recipe, RecipeError, load_recipe, parse_recipe, plan_to_yaml

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipe.schema.json")

__all__ = ["Recipe", "RecipeError", "SCHEMA_FILE", "load_recipe", "parse_recipe", "plan_to_yaml"]
