public enum AIMCTrainingPlaceholder {}
