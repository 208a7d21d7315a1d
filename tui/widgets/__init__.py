"""Small reusable widgets, each with the CSS that belongs to it."""
