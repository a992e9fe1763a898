public enum AIMCClusterPlaceholder {}
