//! The gig's rules and transitions, and the changes they announce.

use super::{transitions::invitation_field, *};

fn gig() -> Gig {
    let owner = UserId::generate();
    Gig {
        id: GigId::generate(),
        owner_id: owner.clone(),
        title: "Story feature".into(),
        description: String::new(),
        deliverables: vec!["3 stories".into()],
        platform: SocialPlatform::Instagram,
        category: "sportswear".into(),
        price: Money {
            amount_minor: 45_000,
            currency: "EUR".into(),
        },
        terms: GigTerms {
            duration_minutes: 60,
            interval_minutes: None,
            buffer_before_minutes: 0,
            buffer_after_minutes: 15,
            min_notice_minutes: 120,
            horizon_days: 60,
            max_per_day: Some(3),
        },
        cancellation: Default::default(),
        status: GigStatus::Draft,
        members: vec![GigMember {
            user_id: owner,
            share_bps: FULL_SHARE_BPS,
            state: MemberState::Accepted,
        }],
        version: 1,
        created_at: Timestamp::UNIX_EPOCH,
        updated_at: Timestamp::UNIX_EPOCH,
    }
}

fn with_members(mut gig: Gig, members: &[(&UserId, MemberState)]) -> Gig {
    gig.members.truncate(1);
    for (user, state) in members {
        gig.members.push(GigMember {
            user_id: (*user).clone(),
            share_bps: 1000,
            state: *state,
        });
    }
    gig
}

#[test]
fn an_unchanged_gig_or_an_edit_of_its_text_tells_nobody() {
    let before = gig();
    let mut after = before.clone();
    after.title = "Another title".into();
    after.version += 1;
    assert_eq!(changes(&before, &before), vec![]);
    assert_eq!(changes(&before, &after), vec![]);
}

#[test]
fn new_invitations_are_told_once_and_reinvited_members_again() {
    let (a, b) = (UserId::generate(), UserId::generate());
    let before = with_members(
        gig(),
        &[(&a, MemberState::Invited), (&b, MemberState::Accepted)],
    );
    let c = UserId::generate();
    let after = with_members(
        before.clone(),
        &[
            (&a, MemberState::Invited),
            (&b, MemberState::Invited),
            (&c, MemberState::Invited),
        ],
    );
    assert_eq!(
        changes(&before, &after),
        vec![GigChange::MemberInvited(b), GigChange::MemberInvited(c)]
    );
}

#[test]
fn answers_name_the_member_and_whether_they_accepted() {
    let (a, b) = (UserId::generate(), UserId::generate());
    let before = with_members(
        gig(),
        &[(&a, MemberState::Invited), (&b, MemberState::Invited)],
    );
    let after = with_members(
        before.clone(),
        &[(&a, MemberState::Declined), (&b, MemberState::Accepted)],
    );
    assert_eq!(
        changes(&before, &after),
        vec![
            GigChange::MemberAnswered {
                member: a,
                accepted: false
            },
            GigChange::MemberAnswered {
                member: b,
                accepted: true
            },
        ]
    );
}

#[test]
fn publishing_and_archiving_tell_the_accepted_members_but_not_the_owner() {
    let (a, b) = (UserId::generate(), UserId::generate());
    let draft = with_members(
        gig(),
        &[(&a, MemberState::Accepted), (&b, MemberState::Declined)],
    );
    let mut published = draft.clone();
    published.status = GigStatus::Published;
    let mut archived = published.clone();
    archived.status = GigStatus::Archived;
    assert_eq!(
        changes(&draft, &published),
        vec![GigChange::Published {
            members: vec![a.clone()]
        }]
    );
    assert_eq!(
        changes(&published, &archived),
        vec![GigChange::Archived { members: vec![a] }]
    );
    assert_eq!(changes(&archived, &archived), vec![]);
}

fn fields(result: Result<(), ValidationErrors>) -> Vec<String> {
    result
        .err()
        .map(|e| e.0.into_iter().map(|f| f.field).collect())
        .unwrap_or_default()
}

#[test]
fn a_complete_single_gig_is_valid_and_publishable() {
    assert_eq!(fields(gig().validate()), Vec::<String>::new());
    assert_eq!(fields(gig().check_publishable()), Vec::<String>::new());
}

#[test]
fn prices_are_positive_minor_units_of_a_supported_currency() {
    let mut g = gig();
    g.price = Money {
        amount_minor: 0,
        currency: "eur".into(),
    };
    assert_eq!(
        fields(g.validate()),
        vec!["price.amount_minor", "price.currency"]
    );
    g.price = Money {
        amount_minor: 500,
        currency: "JPY".into(),
    };
    assert!(g.validate().is_ok());
}

#[test]
fn gig_text_refuses_bidi_overrides_and_invisible_only_values_but_not_other_scripts() {
    let mut g = gig();
    g.title = "Promo \u{202D}video".into();
    g.description = "\u{200B}\u{200C}".into();
    g.category = "\u{FEFF}".into();
    g.deliverables = vec!["Reel \u{2067}x\u{2069}".into()];
    assert_eq!(
        fields(g.validate()),
        vec!["title", "description", "category", "deliverables[0]"]
    );

    let mut g = gig();
    g.title = "جلسة تصوير 📸".into();
    g.description = "צילום מקצועי\n👩\u{200D}🎤 live".into();
    g.category = "תוכן".into();
    assert_eq!(fields(g.validate()), Vec::<String>::new());
}

#[test]
fn terms_errors_are_named_as_the_api_names_them() {
    let mut g = gig();
    g.terms.duration_minutes = 1;
    let errors = fields(g.validate());
    assert!(errors.iter().all(|f| f.starts_with("terms.")), "{errors:?}");
    assert!(
        errors.contains(&"terms.duration_minutes".to_owned()),
        "{errors:?}"
    );
}

#[test]
fn group_shares_must_sum_to_the_whole_and_the_owner_comes_first() {
    let mut g = gig();
    let other = UserId::generate();
    g.members[0].share_bps = 6_000;
    g.members.push(GigMember {
        user_id: other.clone(),
        share_bps: 3_000,
        state: MemberState::Accepted,
    });
    assert_eq!(fields(g.validate_members()), vec!["members"]);
    g.members[1].share_bps = 4_000;
    assert!(g.validate_members().is_ok());
    g.members.swap(0, 1);
    assert_eq!(fields(g.validate_members()), vec!["members"]);
    g.members.swap(0, 1);
    g.members.push(GigMember {
        user_id: other,
        share_bps: 1,
        state: MemberState::Invited,
    });
    assert!(fields(g.validate_members()).contains(&"members[2].user_id".to_owned()));
}

#[test]
fn a_group_gig_publishes_only_once_every_member_accepted() {
    let mut g = gig();
    g.members[0].share_bps = 5_000;
    g.members.push(GigMember {
        user_id: UserId::generate(),
        share_bps: 5_000,
        state: MemberState::Invited,
    });
    assert_eq!(fields(g.check_publishable()), vec!["members[1].state"]);
    g.members[1].state = MemberState::Declined;
    assert_eq!(fields(g.check_publishable()), vec!["members[1].state"]);
    g.members[1].state = MemberState::Accepted;
    assert!(g.check_publishable().is_ok());
    g.status = GigStatus::Published;
    assert_eq!(fields(g.check_publishable()), vec!["status"]);
}

#[test]
fn drafts_are_visible_to_members_only() {
    let mut g = gig();
    let member = UserId::generate();
    let stranger = UserId::generate();
    g.members.push(GigMember {
        user_id: member.clone(),
        share_bps: 0,
        state: MemberState::Invited,
    });
    assert!(g.visible_to(&g.owner_id.clone(), true));
    assert!(g.visible_to(&member, true));
    assert!(!g.visible_to(&stranger, true));
    g.status = GigStatus::Published;
    assert!(g.visible_to(&stranger, true));
}

#[test]
fn a_gig_with_a_suspended_member_is_hidden_from_everyone_but_its_members() {
    let mut g = gig();
    let member = UserId::generate();
    let stranger = UserId::generate();
    g.members.push(GigMember {
        user_id: member.clone(),
        share_bps: 0,
        state: MemberState::Accepted,
    });
    for status in [GigStatus::Published, GigStatus::Archived] {
        g.status = status;
        assert!(!g.visible_to(&stranger, false), "{status:?}");
        assert!(g.visible_to(&member, false), "{status:?}");
        assert!(g.visible_to(&g.owner_id.clone(), false), "{status:?}");
    }
}

#[test]
fn slots_are_offered_only_while_every_member_is_active_and_not_once_archived() {
    let mut g = gig();
    for (status, active, offered) in [
        (GigStatus::Draft, true, true),
        (GigStatus::Published, true, true),
        (GigStatus::Published, false, false),
        (GigStatus::Draft, false, false),
        (GigStatus::Archived, true, false),
    ] {
        g.status = status;
        assert_eq!(g.offers_slots(active), offered, "{status:?} {active}");
    }
}

#[test]
fn the_people_behind_a_gig_are_the_owner_and_each_member_once() {
    let mut g = gig();
    let other = UserId::generate();
    g.members.push(GigMember {
        user_id: other.clone(),
        share_bps: 0,
        state: MemberState::Invited,
    });
    g.members.push(GigMember {
        user_id: other.clone(),
        share_bps: 0,
        state: MemberState::Invited,
    });
    assert_eq!(g.people(), vec![g.owner_id.clone(), other]);
}

fn offer() -> GigDraft {
    let g = gig();
    GigDraft {
        title: g.title,
        description: g.description,
        deliverables: g.deliverables,
        platform: g.platform,
        category: g.category,
        price: g.price,
        terms: g.terms,
        cancellation: g.cancellation,
    }
}

#[test]
fn a_new_draft_belongs_to_its_owner_alone_with_its_one_line_texts_trimmed() {
    let owner = UserId::generate();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let mut offer = offer();
    offer.title = "  Story feature \n".into();
    offer.category = "\tsportswear ".into();
    offer.deliverables = vec![" 3 stories ".into()];
    offer.description = "  Keeps\n its layout  ".into();

    let draft = Gig::draft(GigId::generate(), owner.clone(), offer, now).unwrap();

    assert_eq!(draft.status, GigStatus::Draft);
    assert_eq!(
        (draft.version, draft.created_at, draft.updated_at),
        (1, now, now)
    );
    assert_eq!(
        draft.members,
        vec![GigMember {
            user_id: owner,
            share_bps: FULL_SHARE_BPS,
            state: MemberState::Accepted
        }]
    );
    assert_eq!(
        (draft.title.as_str(), draft.category.as_str()),
        ("Story feature", "sportswear")
    );
    assert_eq!(draft.deliverables, vec!["3 stories"]);
    assert_eq!(draft.description, "  Keeps\n its layout  ");
}

#[test]
fn a_draft_with_invalid_fields_is_refused_with_every_field_named() {
    let mut offer = offer();
    offer.title = "   ".into();
    offer.price.amount_minor = 0;
    let refused = Gig::draft(
        GigId::generate(),
        UserId::generate(),
        offer,
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(
        fields(refused.map(|_| ())),
        vec!["title", "price.amount_minor"]
    );
}

#[test]
fn an_update_replaces_the_given_fields_trimmed_and_keeps_the_others() {
    let before = gig();
    let after = before
        .apply(GigUpdate {
            title: Some(" Launch-day stories ".into()),
            price: Some(Money {
                amount_minor: 50_000,
                currency: "USD".into(),
            }),
            ..GigUpdate::default()
        })
        .unwrap();
    assert_eq!(after.title, "Launch-day stories");
    assert_eq!(after.price.currency, "USD");
    assert_eq!(after.category, before.category);
    assert_eq!(after.version, before.version, "the store bumps the version");
}

#[test]
fn an_invalid_update_is_refused_with_its_fields() {
    let refused = gig().apply(GigUpdate {
        title: Some("ab".into()),
        category: Some(" ".into()),
        ..GigUpdate::default()
    });
    match refused {
        Err(GigRuleError::Invalid(errors)) => {
            assert_eq!(fields(Err(errors)), vec!["title", "category"]);
        }
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[test]
fn an_archived_gig_refuses_every_update() {
    let archived = gig().archive().unwrap();
    assert_eq!(
        archived.apply(GigUpdate::default()),
        Err(GigRuleError::Archived)
    );
}

#[test]
fn publishing_a_valid_draft_makes_it_published_and_a_second_publication_is_refused() {
    let published = gig().publish().unwrap();
    assert_eq!(published.status, GigStatus::Published);
    match published.publish() {
        Err(GigRuleError::NotPublishable(errors)) => {
            assert_eq!(fields(Err(errors)), vec!["status"]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_group_draft_with_a_member_still_invited_is_not_publishable() {
    let member = UserId::generate();
    let draft = gig().invite(5_000, vec![(member, 5_000)]).unwrap();
    match draft.publish() {
        Err(GigRuleError::NotPublishable(errors)) => {
            assert_eq!(fields(Err(errors)), vec!["members[1].state"]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn any_gig_but_an_archived_one_can_be_archived() {
    let draft = gig();
    assert_eq!(draft.archive().unwrap().status, GigStatus::Archived);
    let published = draft.publish().unwrap();
    let archived = published.archive().unwrap();
    assert_eq!(archived.status, GigStatus::Archived);
    assert_eq!(archived.archive(), Err(GigRuleError::AlreadyArchived));
}

#[test]
fn inviting_puts_the_owner_first_accepted_and_every_other_member_invited_anew() {
    let (a, b) = (UserId::generate(), UserId::generate());
    let before = with_members(gig(), &[(&a, MemberState::Accepted)]);
    let after = before
        .invite(4_000, vec![(a.clone(), 3_000), (b.clone(), 3_000)])
        .unwrap();
    assert_eq!(
        after.members,
        vec![
            GigMember {
                user_id: before.owner_id.clone(),
                share_bps: 4_000,
                state: MemberState::Accepted
            },
            GigMember {
                user_id: a,
                share_bps: 3_000,
                state: MemberState::Invited
            },
            GigMember {
                user_id: b,
                share_bps: 3_000,
                state: MemberState::Invited
            },
        ]
    );
    assert!(after.invitation_errors().is_empty());
}

#[test]
fn invitation_errors_are_named_as_the_invitation_names_them() {
    let member = UserId::generate();
    let invited = gig()
        .invite(0, vec![(member.clone(), 0), (member, 4_000)])
        .unwrap();
    let named: Vec<String> = invited
        .invitation_errors()
        .0
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(
        named,
        vec![
            "owner_share_bps",
            "members[0].share_bps",
            "members[1].user_id",
            "members"
        ]
    );
    assert_eq!(invitation_field("members"), "members");
}

#[test]
fn members_change_only_while_the_gig_is_a_draft() {
    let published = gig().publish().unwrap();
    assert_eq!(
        published.invite(5_000, vec![(UserId::generate(), 5_000)]),
        Err(GigRuleError::MembersLocked)
    );
}

#[test]
fn an_invited_member_accepts_or_declines_while_the_gig_is_a_draft() {
    let member = UserId::generate();
    let draft = gig().invite(5_000, vec![(member.clone(), 5_000)]).unwrap();
    assert_eq!(
        draft.answer(&member, true).unwrap().members[1].state,
        MemberState::Accepted
    );
    assert_eq!(
        draft.answer(&member, false).unwrap().members[1].state,
        MemberState::Declined
    );
    let mut archived = draft.clone();
    archived.status = GigStatus::Archived;
    assert_eq!(
        archived.answer(&member, true),
        Err(GigRuleError::InvitationClosed)
    );
}

#[test]
fn neither_the_owner_nor_an_outsider_can_answer_an_invitation() {
    let draft = gig()
        .invite(5_000, vec![(UserId::generate(), 5_000)])
        .unwrap();
    assert_eq!(
        draft.answer(&draft.owner_id.clone(), true),
        Err(GigRuleError::NotInvited)
    );
    assert_eq!(
        draft.answer(&UserId::generate(), true),
        Err(GigRuleError::NotInvited)
    );
}

#[test]
fn money_shows_its_currencys_decimals() {
    let money = |amount_minor, currency: &str| Money {
        amount_minor,
        currency: currency.into(),
    };
    assert_eq!(money(45_000, "EUR").to_string(), "450.00 EUR");
    assert_eq!(money(5, "USD").to_string(), "0.05 USD");
    assert_eq!(money(1_200, "JPY").to_string(), "1200 JPY");
    assert_eq!(money(-250, "GBP").to_string(), "-2.50 GBP");
}
