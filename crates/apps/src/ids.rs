//! The module's typed ids (see `landlord_core::ids`).

landlord_core::entity_id!(
    /// An app; also its OAuth `client_id`.
    AppId
);

landlord_core::entity_id!(
    /// An app installed into an organization.
    InstallationId
);

landlord_core::entity_id!(
    /// A person's consent to an app's scopes.
    ConsentId
);

landlord_core::entity_id!(
    /// An access or refresh token (its row; the token itself is only hashed).
    TokenId
);

landlord_core::entity_id!(
    /// The tokens rotated from one authorization (one sign-in).
    TokenFamilyId
);

landlord_core::entity_id!(
    /// An ID-token signing key: its `kid` in tokens' headers and the JWKS.
    SigningKeyId
);

landlord_core::entity_id!(
    /// A custom domain an app asked for.
    AppDomainId
);
